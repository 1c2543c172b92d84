"""Case conference: one patient or one cohort, de-identified, in large type; PNG / SVG / PDF / PPTX to take away."""

import streamlit as st

from kdash import audit, conference, db, deid, export, ui

ui.require_app_frame()

st.title("Case conference")
st.caption("De-identified presentation: a case code instead of the patient, days since the first treatment instead "
           "of dates, 5-year age bands, and no cohort figure resting on fewer than 5 patients. "
           f"Every export carries the footer “{conference.FOOTER}”.")

mode = st.segmented_control("Present", ["A patient", "A cohort"], default="A patient", key="mode")
pack = None
if mode == "A cohort":
    filters = ui.cohort_filters(with_period=False)
    pack = ui.fetch("conference.cohort_pack", **filters)
else:
    typed = st.query_params.get("case")
    cases = ui.fetch("conference.recent_cases")
    c = st.columns([2, 1])
    labels = dict(zip(cases["case"], cases["label"]))     # one lookup per option, not a scan of the table
    picked = c[0].selectbox("Case (most recently treated first)", [None, *labels],
                            format_func=lambda v: "Choose a case…" if v is None else labels[v], key="picked")
    code = c[1].text_input("…or type a case code", value=typed or "", placeholder="Case 7QX2-K9MD", key="code")
    wanted = deid.normalise_case(code) if code.strip() else picked
    if code.strip() and wanted is None:
        st.error(f"“{code.strip()}” is not a case code: they look like Case 7QX2-K9MD.", icon=":material/error:")
        st.stop()
    if wanted is None:
        st.info("Choose a case, or type the code a colleague gave you. Clinicians find a patient's code on their "
                "progress page.", icon=":material/co_present:")
        st.stop()
    pack = ui.fetch("conference.pack_for_case", case=wanted, today=ui.today())
    if pack is None:
        st.error(f"No case {wanted} in this store.", icon=":material/search_off:")
        st.stop()

st.markdown(f"<div style='font-size:2.4rem;font-weight:700;line-height:1.2'>{pack.title}</div>",
            unsafe_allow_html=True)
for line in pack.summary:
    st.markdown(f"<div style='font-size:1.45rem;line-height:1.5'>{line}</div>", unsafe_allow_html=True)
if pack.refusal:
    st.warning(pack.refusal, icon=":material/visibility_off:")
    st.stop()
if pack.patient_id:
    ui.audit_view("view_case", pack.patient_id, detail=pack.title)



def audited(kind: str, make):
    """A download's bytes, made on click, with the export written to the audit trail."""
    def run():
        data = make()
        with db.transaction(ui.connection_for("conference.export")) as cur:
            audit.log(cur, f"export_{kind}", patient_id=pack.patient_id, detail=pack.title)
        return data
    return run


can_export = export.browser() is not None
if not can_export:
    st.info("Downloads need Debian's Chromium on this server to draw the figures (apt-get install chromium). "
            "The presentation below works without it.", icon=":material/info:")
c = st.columns(2)
c[0].download_button("PDF handout", audited("pdf", lambda: export.pdf(pack)), file_name=f"{pack.slug}.pdf",
                     mime="application/pdf", icon=":material/picture_as_pdf:", width="stretch", disabled=not can_export)
c[1].download_button("PowerPoint deck", audited("pptx", lambda: export.pptx(pack)), file_name=f"{pack.slug}.pptx",
                     mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                     icon=":material/slideshow:", width="stretch", disabled=not can_export)

for f in pack.figures:
    st.subheader(f.title, divider="gray")
    ui.chart(f.fig, key=f"fig_{f.key}")
    st.markdown(f"<div style='font-size:1.2rem'>{f.caption}</div>", unsafe_allow_html=True)
    c = st.columns(6)
    for col, fmt, mime, icon in ((c[0], "png", "image/png", ":material/image:"),
                                 (c[1], "svg", "image/svg+xml", ":material/draw:")):
        col.download_button(fmt.upper(), audited(fmt, lambda fig=f.fig, fmt=fmt: export.image(fig, fmt)),
                            file_name=f"{pack.slug}-{f.key}.{fmt}", mime=mime, key=f"{fmt}_{f.key}", icon=icon,
                            disabled=not can_export)

for t in pack.tables:
    with st.expander(t.title):
        st.dataframe(t.df, hide_index=True, width="stretch", placeholder="—")
