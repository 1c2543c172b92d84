"""Case conference: one patient or one cohort, de-identified, in large type; PNG / SVG / PDF / PPTX to take away."""

import streamlit as st

from kdash import ui
from kdash.clinical import deid
from kdash.present import conference, export

ui.require_app_frame()

st.title("Case conference")
st.caption("De-identified: a case code, days since the first treatment, 5-year age bands, no cohort figure under 5 "
           "patients. Every export carries its footer.", help=f"Footer of every page and slide: “{conference.FOOTER}”.")

top = st.columns([1.1, 2.2, 1.4])
with top[0]:
    mode = st.segmented_control("Present", ["A patient", "A cohort"], default="A patient", key="mode")
pack = None
if mode == "A cohort":
    filters = ui.cohort_filters(with_period=False)
    pack = ui.fetch("conference.cohort_pack", **filters)
else:
    typed = st.query_params.get("case")
    cases = ui.fetch("conference.recent_cases")
    labels = dict(zip(cases["case"], cases["label"]))     # one lookup per option, not a scan of the table
    picked = top[1].selectbox("Case", [None, *labels], key="picked",
                              format_func=lambda v: "Choose a case…" if v is None else labels[v])
    code = top[2].text_input("…or type a case code", value=typed or "", placeholder="Case 7QX2-K9MD", key="code")
    wanted = deid.normalise_case(code) if code.strip() else picked
    if code.strip() and wanted is None:
        st.error(f"“{ui.plain(code.strip())}” is not a case code: they look like Case 7QX2-K9MD.", icon=":material/error:")
        st.stop()
    if wanted is None:
        st.info("Choose a case, or type the code a colleague gave you. Clinicians find a patient's code on their "
                "progress page.", icon=":material/co_present:")
        st.stop()
    pack = ui.fetch("conference.pack_for_case", case=wanted, today=ui.today())
    if pack is None:
        st.error(f"No case {wanted} in this store.", icon=":material/search_off:")
        st.stop()

if pack.refusal:
    st.subheader(ui.plain(pack.title))
    st.warning(pack.refusal, icon=":material/visibility_off:")
    st.stop()
if pack.patient_id:
    ui.audit_view("view_case", pack.patient_id, detail=pack.title)

can_export = export.browser() is not None
first, rest = (pack.figures[0], pack.figures[1:]) if pack.figures else (None, [])


def exported(label, make, kind: str, file_name: str, mime: str, where, **kw) -> None:
    """Made on click for a signed-in clinician or presenter, and audited with the case (ui.download)."""
    ui.download(label, make, file_name, mime, f"export_{kind}", "conference.export", patient_id=pack.patient_id,
                detail=f"{pack.title}: {file_name}", where=where, disabled=not can_export, **kw)


def figure_downloads(f, where) -> None:
    c = where.columns(4)
    for col, fmt, mime, icon in ((c[0], "png", "image/png", ":material/image:"),
                                 (c[1], "svg", "image/svg+xml", ":material/draw:")):
        exported(fmt.upper(), lambda fig=f.fig, fmt=fmt: export.image(fig, fmt), fmt, f"{pack.slug}-{f.key}.{fmt}",
                 mime, col, key=f"{fmt}_{f.key}", icon=icon)


# The first screen (1280 × 720 on a projector): the case and its summary beside its first figure.
left, right = st.columns([2, 3], gap="medium")
with left:
    st.subheader(ui.plain(pack.title))
    with st.container(border=True):
        for line in pack.summary:
            st.markdown(ui.plain(line))
    c = st.columns(3)
    exported("PDF handout", lambda: export.pdf(pack), "pdf", f"{pack.slug}.pdf", "application/pdf", c[0],
             icon=":material/picture_as_pdf:", width="stretch", help="A4 portrait, two figures a page")
    exported("PDF to project", lambda: export.pdf(pack, projector=True), "pdf", f"{pack.slug}-landscape.pdf",
             "application/pdf", c[1], icon=":material/present_to_all:", width="stretch",
             help="A4 landscape, one figure a page in large type: the slides' layout as a PDF")
    exported("PowerPoint", lambda: export.pptx(pack), "pptx", f"{pack.slug}.pptx",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation", c[2],
             icon=":material/slideshow:", width="stretch")
    if not can_export:
        st.caption("Downloads need Debian's Chromium on this server to draw the figures (apt-get install chromium).")
if first:
    with right:
        # a little shorter than the others, so that it fits the first screen with its caption
        ui.chart({**first.fig, "layout": {**first.fig["layout"], "height": 440}}, key=f"fig_{first.key}")
        st.caption(ui.plain(first.caption))
        figure_downloads(first, st)

for f in rest:
    st.subheader(ui.plain(f.title), divider="gray")
    ui.chart(f.fig, key=f"fig_{f.key}")
    st.markdown(ui.plain(f.caption))
    figure_downloads(f, st)

for t in pack.tables:
    with st.expander(ui.plain(t.title)):
        ui.data_table(t.df, keep=tuple(t.df.columns))
