"""Patients: the roster, most urgent first, searchable and filtered in SQL; each row opens the patient page."""

import streamlit as st

from kdash import rulebook, ui
from kdash.clinical import roster, rules

ui.require_app_frame()

today = ui.today()
cfg = ui.clinic_settings()
scale = cfg["clinic"]["main_scale"]

st.title("Patients")
st.caption("Sorted by urgency: patients with open safety flags (not acknowledged, not cleared) first, suicide-risk "
           f"answers at the top. Outcome on {scale}, last observation against baseline (clinical reference §1).")


@st.fragment(run_every=ui.WORKLIST_REFRESH_SECONDS)
def worklist() -> None:
    """Redrawn alone every half minute while the page is open (a check-in's flag within a minute, clinical-reference
    §8), keeping what is typed in an acknowledgement."""
    ui.fragment_guard()
    ui.ack_note()
    ui.flag_worklist("roster")
    ui.course_prompts("roster")


with st.expander("Safety-flag worklist", icon=":material/notifications:"):
    worklist()

ROUTES = {None: "All routes", **roster.ROUTE_NAMES}
FLAGS = {None: "Any or none", "any": "Any open flag", **{r.id: r.title for r in rules.RULES.values()}}

search = st.text_input("Search by name, ID or MRN", max_chars=80, placeholder="e.g. Garcia or P000123")
f1, f2, f3, f4, f5, f6 = st.columns(6)
route = f1.selectbox("Route", list(ROUTES), format_func=ROUTES.get)
PHASE_CHOICES = {roster.ACTIVE: "Active", None: "All, finished and stopped too",
                 **{p: p.capitalize() for p in roster.PHASES}}
phase = f2.selectbox("Phase", list(PHASE_CHOICES), format_func=PHASE_CHOICES.get,
                     help=f"Active: {rulebook.ACTIVE_MEANS[0].lower()}{rulebook.ACTIVE_MEANS[1:]} Open safety flags "
                          "of any patient are in the worklist above; the Flag filter finds them here.")
clinician = f3.selectbox("Clinician", [None, *ui.fetch("roster.clinicians")],
                         format_func=lambda v: "All clinicians" if v is None else v)
status = f4.selectbox("Status", [None, *roster.STATUSES], format_func=lambda v: "All statuses" if v is None else v)
flag = f5.selectbox("Flag", list(FLAGS), format_func=FLAGS.get)
COURSES = {None: "Any course", "not_on_track": "Not on track"}
course = f6.selectbox("Expected course", list(COURSES), format_func=COURSES.get,
                      help="Not on track: a course in induction behind the clinic's earlier courses of its route "
                           "(clinical reference §9) — a review prompt, not a safety flag.")

# a search looks through every patient, finished and stopped too: the one typed is the one wanted
filters = dict(search=search or None, route=route, phase=None if search and phase == roster.ACTIVE else phase, clinician=clinician, status=status, flag=flag, course=course)
searched = any(v is not None for k, v in filters.items() if k != "phase") or phase != roster.ACTIVE
# the filter is audited, not the patients it found; the unfiltered list is a view of patients too
ui.audit_view("roster_search" if searched else "view_roster", None,
              detail=", ".join(f"{k}={v}" for k, v in filters.items() if v is not None))
first = ui.fetch("roster.page", today=today, page_no=1, **filters)
total = int(first["total"].iloc[0]) if len(first) else 0
if total == 0:
    st.info("No patients match these filters.", icon=":material/search_off:")
    st.stop()
pages = (total + roster.PAGE_SIZE - 1) // roster.PAGE_SIZE
page_no = (st.columns([1, 5])[0].number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1)
           if pages > 1 else 1)           # a narrow spinner, not the page's whole width
rows = first if page_no == 1 else ui.fetch("roster.page", today=today, page_no=int(page_no), **filters)
if page_no > 1:
    ui.audit_view("view_roster", None, detail=f"page {page_no}: " + ", ".join(f"{k}={v}" for k, v in filters.items()
                                                                                if v is not None))
st.caption(f"{total:,} patients match · showing {len(rows)} (page {page_no} of {pages})")

table = roster.display(rows)
behind = set(ui.fetch("course.not_on_track", today=today)["patient_id"])
table["expected_course"] = ["not on track" if p in behind else "" for p in rows["patient_id"]]
st.caption("Click a row to open that patient's progress page.")
ui.patient_table(
    table, "patient", "roster_pick", height=min(38 + 35 * len(table), 1800),
    column_config={
        "patient_id": st.column_config.TextColumn("Patient", width=70),
        "name": st.column_config.TextColumn("Name", width=120),
        "flags": st.column_config.TextColumn("Open flags", width=160, help="The most severe first; +n: more rules"),
        "status": st.column_config.TextColumn("Status", width=100),
        "scores": st.column_config.TextColumn(scale, width=105, help="Baseline → latest (change); a fall is negative"),
        "course": st.column_config.TextColumn("Course", width=130, help="Route · phase · completed sessions"),
        "next_session": st.column_config.DatetimeColumn("Next session", format="D MMM HH:mm", width=85),
        "expected_course": st.column_config.TextColumn("On track?", width=72,
                                                       help="Not on track against earlier courses (a review prompt)"),
    },
    # the columns a clinician acts on, fitting a 1280-pixel screen; the clinician is a filter and in the CSV
    column_order=["patient_id", "name", "flags", "status", "scores", "course", "expected_course", "next_session"])
ui.csv_download(table, "roster.csv", "roster.page", "Download this page as CSV")
