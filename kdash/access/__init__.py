"""Who may see what: the pages and the data functions of each role.

clinician  every clinical page: patients, progress, eligibility and its decisions, recording sessions,
           outcomes, side effects, case conferences
manager    throughput and the aggregate pages (clinic at a glance, outcomes, side effects): no names or IDs
presenter  the case-conference page, de-identified only
admin      users, imports and the audit log

The navigation shows a role only its pages, app.py refuses any other page however it is reached (a typed
URL, a deep link), and kdash.ui.fetch checks every data function against the same table, so a query
parameter cannot reach another role's data either.
"""

from __future__ import annotations

ROLES = ("clinician", "manager", "presenter", "admin")

# url_path (the page file's stem) → roles that may open it
PAGES: dict[str, frozenset[str]] = {
    "home": frozenset({"clinician", "manager"}),
    "roster": frozenset({"clinician"}),
    "patient": frozenset({"clinician"}),
    "eligibility": frozenset({"clinician"}),
    "record_session": frozenset({"clinician"}),
    "outcomes": frozenset({"clinician", "manager"}),
    "side_effects": frozenset({"clinician", "manager"}),
    "throughput": frozenset({"manager"}),
    "conference": frozenset({"clinician", "presenter"}),
    "users": frozenset({"admin"}),
    "import_data": frozenset({"admin"}),
    "audit": frozenset({"admin"}),
    "flag_rules": frozenset({"admin"}),
    "data_quality": frozenset({"clinician", "manager", "admin"}),   # a manager: counts only
    "reference": frozenset(ROLES),           # the clinical reference: rules and sources, no patient data
}

# "module.function" (or "module." for every function of a module) → roles that may call it through the UI
FUNCTIONS: dict[str, frozenset[str]] = {
    "clinic.": frozenset({"clinician", "manager"}),
    "roster.clinicians": frozenset({"clinician", "manager", "presenter"}),   # the staff list of the filters
    "roster.": frozenset({"clinician"}),
    "worklist.counts": frozenset({"clinician", "manager"}),       # counts only
    "worklist.loop_by_week": frozenset({"manager"}),               # counts only
    "worklist.rule_frequency": frozenset({"admin"}),               # counts only
    "worklist.": frozenset({"clinician"}),
    "patient.": frozenset({"clinician"}),
    "eligibility.": frozenset({"clinician"}),
    "recording.": frozenset({"clinician"}),
    "decisions.": frozenset({"clinician"}),
    "checkin.": frozenset({"clinician"}),
    "course.check": frozenset({"clinician", "manager"}),            # counts and rates of the clinic's courses
    "course.proof": frozenset({"clinician", "manager"}),
    "course.": frozenset({"clinician"}),                          # codes, self-reports, striking one
    "outcomes.": frozenset({"clinician", "manager"}),
    "side_effects.": frozenset({"clinician", "manager"}),
    "throughput.chairs": frozenset({"clinician", "manager"}),     # the chair list of the session form
    "throughput.": frozenset({"manager"}),
    "report.": frozenset({"manager"}),                              # counts and rates only
    "conference.": frozenset({"clinician", "presenter"}),
    "audit_view.": frozenset({"admin"}),
    "users.": frozenset({"admin"}),
    "importing.": frozenset({"admin"}),
    "quality.": frozenset({"clinician", "manager", "admin"}),
}

PAGE_TITLES = {"home": "Clinic at a glance", "roster": "Patients", "patient": "Patient progress",
               "eligibility": "Eligibility", "record_session": "Record a session", "outcomes": "Outcomes",
               "side_effects": "Side effects", "throughput": "Throughput", "conference": "Case conference",
               "import_data": "Import", "audit": "Audit log", "users": "Users", "flag_rules": "Flag rules",
               "data_quality": "Data quality", "reference": "Clinical reference"}


class AccessDenied(Exception):
    """A role asked for something it may not have; the message says what and why, without data."""


def may_open(role: str | None, page: str) -> bool:
    return role in PAGES.get(page or "home", frozenset())


def pages_for(role: str | None) -> list[str]:
    return [p for p, roles in PAGES.items() if role in roles]


def may_call(role: str | None, func: str) -> bool:
    """The most specific entry decides: 'roster.clinicians' before 'roster.'; anything unlisted is refused."""
    if func in FUNCTIONS:
        return role in FUNCTIONS[func]
    module = func.split(".", 1)[0] + "."
    return role in FUNCTIONS.get(module, frozenset())


def check_call(role: str | None, func: str) -> None:
    if not may_call(role, func):
        raise AccessDenied(f"the {role or 'signed-out'} role cannot use {func}")
