"""Import: a CSV folder (data-contract §3) or FHIR R4 files (§4). Check first (a dry run), then import in one
transaction: all of it, or — when asked — the valid rows only."""

import shutil
from pathlib import Path

import pandas as pd
import streamlit as st

from kdash import ui
from kdash.importers import importing, uploads

ui.require_app_frame()
cfg = ui.clinic_settings()
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_import"

st.title("Import")
st.caption("Upload the CSV files of an import folder (patients.csv, sessions.csv, …), FHIR R4 JSON or NDJSON "
           "files, or a zip of them. Nothing is written until you confirm, and then all of it lands in one "
           "transaction or none of it does.")
st.download_button("Download the CSV templates (a sample folder, zip)", uploads.sample_zip(SAMPLE),
                   "kdash-import-sample.zip", "application/zip")
files = st.file_uploader("Files to import", type=["csv", "json", "ndjson", "zip"], accept_multiple_files=True)
skip = st.checkbox("Import the valid rows and leave out the rest", help="Without this, any problem stops the import.")
into_demo = False
if ui.is_demo_store():
    st.warning("This is the synthetic demo store. A clinic's own data belongs in a store of its own, made on the "
               "server with `python -m kdash init --db PATH`.", icon=":material/science:")
    into_demo = st.checkbox("Import into this demo store anyway, as a trial (the store stays marked as a demo)")
if not files:
    st.info("Choose files to see what they would add.", icon=":material/upload_file:")
    st.stop()

try:
    folder, sources = uploads.unpack([(f.name, f.getvalue()) for f in files])
except uploads.UploadError as exc:
    st.error(f"Cannot read the upload: {ui.plain(exc)}.", icon=":material/error:")
    st.stop()
try:
    report = importing.run(ui.connection_for("importing.run"), cfg, sources, skip_invalid=skip, dry_run=True,
                            into_demo=into_demo)
    found = {t: len(rows) for t, rows in report.rows.items()}
    st.subheader("What the files hold")
    st.dataframe(pd.DataFrame({"table": list(found), "rows read": list(found.values()),
                               "new (would be added)": [report.written.get(t, 0) for t in found]}),
                 hide_index=True, width="stretch", placeholder="—")
    if report.fhir:
        st.subheader("FHIR: what each kind of record became")
        st.caption("Every resource is accounted for: imported, left out with the reason (kdash keeps no such thing, "
                   "or it is not what kdash reads), or rejected as a problem below.")
        rows = report.fhir["by_resource"]
        st.dataframe(pd.DataFrame({
            "resource": [r["resource"] for r in rows], "code": [r["code"] or "—" for r in rows],
            "what it is": [r["display"] or "—" for r in rows], "imported": [r["imported"] for r in rows],
            "left out, and why": ["; ".join(f"{why} ×{n}" for why, n in r["skipped"].items()) or "—" for r in rows],
            "rejected, and why": ["; ".join(f"{why} ×{n}" for why, n in r["rejected"].items()) or "—" for r in rows]}),
            hide_index=True, width="stretch", placeholder="—")
        if report.fhir["unmapped"]:
            st.caption("Codes kdash could not map, most common first (tell us if one of them matters to your clinic):")
            st.dataframe(pd.DataFrame(report.fhir["unmapped"]), hide_index=True, width="stretch", placeholder="—")
    elif report.skipped:
        st.caption("Skipped (not used by kdash): " + ui.plain(", ".join(f"{n} {k}" for k, n in report.skipped.items())))
    for w in report.warnings:                        # a header is the file's text, never markup
        st.warning(ui.plain(w), icon=":material/warning:")
    if report.problems:
        st.error(f"{len(report.problems)} problem(s) found" + ("; these rows will be left out." if skip else
                 "; nothing can be imported until they are fixed (or tick the box above)."), icon=":material/error:")
        st.dataframe(pd.DataFrame({"problem": report.problems}), hide_index=True, width="stretch", placeholder="—")
    ready = not report.problems or skip
    if st.button("Import", type="primary", disabled=not ready or not sum(report.written.values())):
        done = importing.run(ui.connection_for("importing.run"), cfg, sources, skip_invalid=skip, into_demo=into_demo)
        if done.problems and not skip:
            st.error("The files changed since the check; nothing was imported.", icon=":material/error:")
        else:
            ui.clear_caches()
            st.success("Imported: " + (", ".join(f"{n} {t}" for t, n in done.written.items() if n) or "nothing new")
                       + ".", icon=":material/task_alt:")
    elif ready and not sum(report.written.values()):
        st.info("Everything in these files is in the store already.", icon=":material/done_all:")
finally:
    shutil.rmtree(folder, ignore_errors=True)
