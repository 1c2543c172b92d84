"""Data quality: every gap in the record that leaves a patient out of a figure or hides a risk, who is affected and
what to do about it; the import sources and their last import; the gaps over the last 12 weeks (data-contract §11).
Clinicians and administrators see the patients; a manager sees the counts only."""

import pandas as pd
import streamlit as st

from kdash import ui
from kdash.clinical import quality
from kdash.present import charts

ui.require_app_frame()
today = ui.today()

st.title("Data quality")
st.caption("What in the record leaves a patient out of a figure, or hides a risk: each check with the patients it "
           "finds and what to do. The command line's quality report (for scripts) gives the same.")
v = ui.fetch("quality.page_view", today=today)
counts_only = ui.counts_only() and ui.user()["role"] != "admin"
report = [r for r in v["report"] if r["check"] != "sources"]

summary = pd.DataFrame([{"check": r["title"], "patients": r["count"],
                         "found": next(r[k] for k in ("courses", "sessions", "days", "rows") if k in r),
                         "what to do": r["fix"]} for r in report])
if counts_only:
    summary = ui.suppressed(summary, ["patients"])
ui.word_table(summary)
if ui.counts_only() and ui.user()["role"] == "manager":
    st.caption("Counts only: the patients behind each count are listed for clinicians and administrators.")

weeks = v["weeks"]
if weeks["rows"].sum():
    ui.chart(charts.quality_by_week(weeks, {c.code: c.title for c in quality.CHECKS}).to_dict())

asked = st.query_params.get("check")
if not counts_only:
    st.subheader("Who is affected")
    codes = [r["check"] for r in report]
    titles = {r["check"]: f"{r['title']} ({r['count']})" for r in report}
    start = codes.index(asked) if asked in codes else next((i for i, r in enumerate(report) if r["count"]), 0)
    code = st.selectbox("Check", codes, index=start, format_func=titles.get, key="quality_check")
    rows = v["rows"][code]
    ui.audit_view("view_data_quality", None, detail=f"{code}: {len(rows)} rows")
    if rows.empty:
        st.success("Nothing found.", icon=":material/check_circle:")
    else:
        st.caption(quality.BY_CODE[code].fix + " Click a row to open the patient.")
        table = pd.DataFrame({
            "patient_id": rows["patient_id"],
            "name": [" ".join(str(x) for x in (g, f) if pd.notna(x)) or "Name not recorded"
                     for g, f in zip(rows["given_name"], rows["family_name"])],
            "birth_date": rows["birth_date"], "what": rows["what"]})
        ui.patient_table(table, "eligibility" if code == "missing_demographics" else "patient", f"quality_{code}",
                         column_config={"what": st.column_config.TextColumn("What is missing", width="large")})
        if len(rows) >= 2000:
            st.caption("The first 2,000 are listed; the count above is of them all (an administrator's quality "
                       "report lists every one).")

st.subheader("Import sources")
src = next(r for r in v["report"] if r["check"] == "sources")["sources"]
if src:
    ui.word_table(pd.DataFrame([{"source": s["source"], "imports": s["imports"], "last import": s["last_import"]}
                                for s in src]))
else:
    st.caption("Nothing imported yet: every row was entered in kdash (or by the demo generator).")
