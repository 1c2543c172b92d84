"""Real-shaped data: CSV import folders within data-contract §3, stores made as a clinic makes them, and the
checks that every page copes with them (issue 15, "Real clinics, real data").

- `csv_folders()`: a hypothesis strategy of CSV import folders (file name → CSV text) within the contract: only
  the required columns, all columns, or random blanks in every optional column; totals without items; vitals by
  session and minute without a time; screening readings by patient and time; the clinic's own IDs.
- `clinic_store(path, sources)`: `python -m kdash init` (or kdash.db.init_store), then kdash.importing.run.
- `page_problems(store)`: the real app (app.py through AppTest) as every role on every page it may open, and
  the patient, eligibility, conference and record-session pages for every patient; what a user would see go
  wrong, in words.
- `flag_mismatches(store)`: the Python rules (patient page) against the SQL rules (roster, home) over all time.

The columns are written out here from data-contract §3 rather than read from the importer, so the generator
checks the importer against the contract and not against itself.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kdash import scales  # noqa: E402

# --------------------------------------------------------------------------------------------------------------
# data-contract §3, column by column: (all columns in contract order, the required ones)

COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    "patients.csv": (["patient_id", "given_name", "family_name", "birth_date", "sex", "referral_date",
                      "primary_diagnosis", "clinician", "mrn"],
                     ["patient_id", "birth_date", "sex"]),
    "antidepressant_trials.csv": (["patient_id", "drug", "dose_mg_per_day", "start_date", "end_date", "outcome",
                                   "current_episode"],
                                  ["patient_id", "drug", "dose_mg_per_day", "start_date", "outcome"]),
    "screening.csv": (["patient_id", "item", "status", "assessed_on"], ["patient_id", "item", "status"]),
    "sessions.csv": (["session_id", "patient_id", "scheduled_at", "status", "route", "dose_mg", "weight_kg", "chair",
                      "clinician", "started_at", "ended_at", "phase"],
                     ["session_id", "patient_id", "scheduled_at", "status", "route"]),
    "assessments.csv": (["patient_id", "assessed_on", "scale", "total", "items", "session_id"],
                        ["patient_id", "assessed_on", "scale"]),
    "vitals.csv": (["session_id", "minute", "patient_id", "measured_at", "systolic", "diastolic", "heart_rate",
                    "spo2"], ["systolic", "diastolic"]),
    "side_effects.csv": (["session_id", "effect", "severity", "note"], ["session_id", "effect"]),
}
FILE_ORDER = list(COLUMNS)

# A file holding only the starred columns cannot hold a single valid row for these two files: an assessment needs
# a total or items, a reading a session and minute or a patient and time. "Minimal" there means the starred
# columns plus the fewest the contract's row rules ask for.
MINIMAL_EXTRA = {"assessments.csv": ["total"], "vitals.csv": ["session_id", "minute"]}

SCREENING_ITEMS = (
    "aneurysmal_vascular_disease", "arteriovenous_malformation", "intracerebral_hemorrhage",
    "ketamine_hypersensitivity", "pregnancy", "psychosis_current", "psychotic_disorder_history",
    "substance_use_disorder_3m", "ketamine_or_pcp_misuse",
    "unstable_cardiovascular", "sleep_apnea_untreated", "seizures_unexplained", "raised_intracranial_pressure",
    "hepatic_impairment_moderate", "hepatic_impairment_severe", "cystitis", "cognitive_impairment", "ecg_done",
    "liver_kidney_tests_done", "stop_bang_done", "pregnancy_test_done", "consent_signed", "rems_enrolled")
WORKUP = ("ecg_done", "liver_kidney_tests_done", "stop_bang_done", "pregnancy_test_done", "consent_signed",
          "rems_enrolled")
EFFECTS = ("dissociation", "nausea", "dizziness", "vertigo", "headache", "somnolence", "dysgeusia", "hypoaesthesia",
           "paraesthesia", "vomiting", "anxiety", "blood_pressure_increased", "blurred_vision", "sedation", "other")
ROUTES = ("iv_ketamine", "esketamine", "sc_ketamine")
INDUCTION = {"iv_ketamine": 6, "esketamine": 8, "sc_ketamine": 6}
DRUGS = ("sertraline", "Sertraline", "fluoxetine", "escitalopram", "citalopram", "paroxetine", "venlafaxine",
         "duloxetine", "bupropion", "mirtazapine", "vortioxetine", "nortriptyline", "amitriptyline", "lithium",
         "quetiapine", "agomelatine", "tranylcypromine")

GIVEN = ("Anna", "Zoë", "José", "Łukasz", "Siobhán", "Mai", "Ørjan", "Nnamdi", "Fatima", "Björk", "Chloé", "Wei",
         "Ана", "Jean-Luc", "D'Arcy", "Sam")
FAMILY = ("García Márquez", "Müller", "O'Brien", "Nguyễn", "Søndergaard", "Smith-Jones", "Ivanova",
          "van der Berg", "Ó Súilleabháin", "Kowalczyk", "Dąbrowski", "Lee", "Al-Hassan", "Núñez, Jr.")
CLINICIANS = ("Dr Ahmed", "Dr Müller-Lüdenscheidt", "N. O'Connor & team", "Dr Søren Kierkegaard", "Dr Chen")
CHAIRS = ("Chair 1", "Chair 2", "Chair 3", "Sessel Ü", "Room 2 & 3", "#4")
NOTES = ("felt floaty, settled by 60 min", "nausea, \"mild\", ondansetron given", "Übelkeit; besser nach 30 min",
         "headache\nresolved before discharge", "patient said: 'like a dream'", "")

# Words that mean a missing value leaked onto the screen (case matters: "none" is a QIDS band, "Nan" a name).
LEAK = re.compile(r"(?<![\w<])(None|NaT|nan|NaN|<NA>)(?![\w>])")

# IDs: the clinic's own printable strings (data-contract §3), with the characters that break naive links.
_ID_ALPHABET = ("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789" "-_./&?#' " "éüßøñÅłЖλÆ漢")


def _clean_id(text: str) -> str:
    return text.strip()[:64].strip()


def _good_id(text: str) -> bool:
    from kdash import ids
    return bool(text) and ids.problem(text) is None and not LEAK.search(text)


id_texts = st.one_of(
    st.integers(1, 99999).map(lambda n: f"P{n:05d}"),
    st.integers(1, 9999).map(lambda n: f"MRN {n} & co"),
    st.integers(1, 999).map(lambda n: f"Kl. Ärztin #{n}?ok"),
    st.integers(1, 999).map(lambda n: f"A&B?C#{n} d é"),
    st.integers(1, 9999).map(lambda n: f"{n:04d}/Ærø ∂ łódź"),
    st.text(_ID_ALPHABET, min_size=1, max_size=70).map(_clean_id),
    st.text(_ID_ALPHABET, min_size=64, max_size=64).map(lambda s: "X" + s[1:-1] + "Y"),   # exactly 64 characters
).filter(_good_id)


# --------------------------------------------------------------------------------------------------------------
# the generator: a little clinic as Python rows, then written out as the files of one folder

@dataclass
class _Patient:
    pid: str
    n_sessions: int
    route: str
    switch_route: bool
    first_ago: int            # days between the first session and today
    suicidal: bool
    pre_high: bool
    post_high: bool
    scales: tuple[str, ...]
    with_items: float         # chance that a score comes with its items
    with_vitals: float        # chance that a completed session has readings
    seed: int


@dataclass
class _Clinic:
    rows: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, name: str, row: dict) -> None:
        self.rows.setdefault(name, []).append(row)


def _fmt_datetime(r: random.Random, t: dt.datetime) -> str:
    style = r.random()
    if style < 0.5:
        return t.strftime("%Y-%m-%dT%H:%M")
    if style < 0.75:
        return t.strftime("%Y-%m-%dT%H:%M:%S")
    if style < 0.9:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + r.choice(["+01:00", "+00:00", "-05:00"])
    return t.strftime("%Y-%m-%d %H:%M")


def _spread(r: random.Random, total: int, n: int, cap: int, fixed: dict[int, int] | None = None) -> list[int]:
    """n item scores in 0..cap summing to total (fixed: index → score kept as given)."""
    items = [0] * n
    for i, v in (fixed or {}).items():
        items[i] = v
    rest = total - sum(items)
    free = [i for i in range(n) if i not in (fixed or {})]
    while rest > 0:
        i = r.choice([j for j in free if items[j] < cap])
        items[i] += 1
        rest -= 1
    return items


def _score(r: random.Random, code: str, frac: float, suicide: int | None, with_items: bool) -> tuple[int, list | None]:
    """(total, items or None) of a scale at a severity fraction; suicide = the suicide item's score, if any."""
    s = scales.SCALES[code]
    total = max(0, min(s.total_max, round(frac * s.total_max + r.uniform(-2, 2))))
    if not with_items or s.n_items is None:
        return total, None
    if code == "QIDS_SR16":
        domains = _spread(r, min(total, 27), 9, 3)
        items = [0] * 16
        for d, members in zip(domains, scales.QIDS_DOMAINS):
            hit = r.choice(members)
            for m in members:
                items[m - 1] = d if m == hit else r.randint(0, d)
        if suicide is not None:                         # item 12: its own domain
            items[11] = suicide
        return scales.total_from_items(code, items), items
    fixed = {}
    if suicide is not None and s.suicide_item:
        fixed = {s.suicide_item - 1: min(suicide, s.item_max)}
        total = max(total, fixed[s.suicide_item - 1])
    cap_total = min(s.total_max, (s.n_items - len(fixed)) * s.item_max + sum(fixed.values()))
    items = _spread(r, min(total, cap_total), s.n_items, s.item_max, fixed)
    return sum(items), items


def _clinic(p_list: list[_Patient], today: dt.date, with_time_outside: bool, session_ids) -> _Clinic:
    """Every row of every file for these patients, every optional value filled in (blanks are made later)."""
    c = _Clinic()
    sid_iter = iter(session_ids)
    for p in p_list:
        r = random.Random(p.seed)
        age = r.choice([r.randint(16, 17), r.randint(18, 65), r.randint(18, 65), r.randint(66, 86)])
        born = today - dt.timedelta(days=365 * age + r.randint(0, 364))
        weight = r.randint(48, 135)
        clinician = r.choice(CLINICIANS)
        # sessions: induction twice weekly, then maintenance every one to four weeks; the last one no later than today
        every = r.choice([(7, 28), (7, 28), (21, 60)])          # maintenance: weekly to monthly, or a long course
        gaps = [0] + [r.randint(2, 4) if i < INDUCTION[p.route] else r.randint(*every) for i in range(1, p.n_sessions)]
        span = sum(gaps)
        first = today - dt.timedelta(days=max(p.first_ago, span + 1))      # the last session yesterday at the latest
        referral = first - dt.timedelta(days=r.randint(14, 120)) if p.n_sessions else \
            today - dt.timedelta(days=r.randint(0, 200))
        c.add("patients.csv", {
            "patient_id": p.pid, "given_name": r.choice(GIVEN), "family_name": r.choice(FAMILY),
            "birth_date": born.isoformat(), "sex": r.choice("FFMMX"), "referral_date": referral.isoformat(),
            "primary_diagnosis": r.choice(["mdd", "mdd", "mdd", "bipolar_depression", "pdd", "other"]),
            "clinician": clinician, "mrn": r.choice([f"MRN-{r.randint(1, 10**6):06d}", f"{r.randint(1, 10**8):08d}",
                                                     f"A/{r.randint(1, 999)}#{r.randint(1, 9)}"])})
        # antidepressant trials and screening
        for drug in r.sample(DRUGS, r.randint(0, 4)):
            start = referral - dt.timedelta(days=r.randint(60, 1100))
            end = start + dt.timedelta(weeks=r.randint(2, 20))
            outcome = r.choice(["no_response", "no_response", "partial_response", "response", "intolerance",
                                "ongoing"])
            c.add("antidepressant_trials.csv", {
                "patient_id": p.pid, "drug": drug, "dose_mg_per_day": r.choice(["20", "50", "75", "150", "225", "12.5",
                                                                                 "300"]),
                "start_date": start.isoformat(),
                "end_date": "" if outcome == "ongoing" else min(end, today).isoformat(),
                "outcome": outcome, "current_episode": r.choice(["true", "true", "false"])})
        items = r.sample(SCREENING_ITEMS, r.randint(0, 8))
        if r.random() < 0.4:
            items = sorted(set(items) | set(WORKUP))
        for item in items:
            status = "absent" if item not in WORKUP else "present"
            status = r.choices([status, "unknown", "present" if status == "absent" else "absent"], [8, 1, 1])[0]
            c.add("screening.csv", {"patient_id": p.pid, "item": item, "status": status,
                                    "assessed_on": (referral + dt.timedelta(days=r.randint(0, 14))).isoformat()
                                    if referral + dt.timedelta(days=14) <= today else referral.isoformat()})

        # sessions with their readings, scores and side effects
        day, done, route = first, [], p.route
        for k, gap in enumerate(gaps):
            day = day + dt.timedelta(days=gap)
            if p.switch_route and k == p.n_sessions // 2:
                route = r.choice([x for x in ROUTES if x != route])
            status = r.choices(["completed", "cancelled", "no_show"], [8, 1, 1])[0]
            at = dt.datetime.combine(day, dt.time(r.randint(8, 15), r.choice([0, 15, 30, 45])))
            sid = next(sid_iter)
            minutes = {"iv_ketamine": r.randint(55, 95), "esketamine": r.choice([110, 125, 130, 140]),
                       "sc_ketamine": r.randint(45, 75)}[route]
            start = at + dt.timedelta(minutes=r.randint(0, 25))
            dose = {"iv_ketamine": round(0.5 * weight), "esketamine": r.choice([56, 84]),
                    "sc_ketamine": round(r.choice([0.5, 0.75, 1.0]) * weight)}[route]
            completed = status == "completed"
            n_done = len(done) + (1 if completed else 0)
            c.add("sessions.csv", {
                "session_id": sid, "patient_id": p.pid, "scheduled_at": _fmt_datetime(r, at), "status": status,
                "route": route, "dose_mg": str(dose) if completed else "",
                "weight_kg": str(weight + r.choice([0, 0, 0.5, -1])) if completed else "",
                "chair": r.choice(CHAIRS), "clinician": r.choice([clinician, r.choice(CLINICIANS)]),
                "started_at": _fmt_datetime(r, start) if completed else "",
                "ended_at": _fmt_datetime(r, start + dt.timedelta(minutes=minutes)) if completed else "",
                "phase": ("induction" if n_done <= INDUCTION[route] else "maintenance") if completed else
                r.choice(["", "induction"])})
            if not completed:
                continue
            done.append((sid, day, route))
            if r.random() < p.with_vitals:
                marks = {"iv_ketamine": [-5, 40, 70], "esketamine": [-5, 40, 90, 120],
                         "sc_ketamine": [-5, 30, 60]}[route]
                if r.random() < 0.2:
                    marks = sorted(r.sample(marks, r.randint(1, len(marks))))
                base = r.randint(108, 134)
                for m in marks:
                    if m < 0:
                        sys_ = r.randint(142, 168) if p.pre_high and r.random() < 0.5 else base
                        dia = r.randint(92, 99) if p.pre_high and sys_ == base else r.randint(64, 88)
                    elif p.post_high and r.random() < 0.4:
                        sys_, dia = r.choice([(r.randint(182, 205), r.randint(90, 108)),
                                              (r.randint(160, 178), r.randint(111, 120))])
                    else:
                        sys_, dia = base + r.randint(0, 30), r.randint(66, 95)
                    c.add("vitals.csv", {"session_id": sid, "minute": str(m),
                                         "patient_id": p.pid if r.random() < 0.3 else "", "measured_at": "",
                                         "systolic": str(sys_), "diastolic": str(dia),
                                         "heart_rate": str(r.randint(55, 110)), "spo2": str(r.randint(92, 100))})
            for effect in r.sample(EFFECTS, r.choice([0, 0, 0, 1, 1, 2, 3])):
                c.add("side_effects.csv", {"session_id": sid, "effect": effect,
                                           "severity": r.choice(["mild", "mild", "moderate", "severe"]),
                                           "note": r.choice(NOTES)})

        # readings outside sessions: at the consultation, and on the morning of the first treatment day
        if with_time_outside:
            times = {dt.datetime.combine(referral, dt.time(11, 0))}
            if done:
                times.add(dt.datetime.combine(done[0][1], dt.time(7, 30)))         # before the first session
                if len(done) > 3 and r.random() < 0.5:                              # a consultation mid-course
                    times.add(dt.datetime.combine(done[2][1] + dt.timedelta(days=1), dt.time(17, 45)))
            for t in sorted(times):
                high = p.pre_high and r.random() < 0.5
                c.add("vitals.csv", {"session_id": "", "minute": "", "patient_id": p.pid,
                                     "measured_at": _fmt_datetime(r, t),
                                     "systolic": str(r.randint(142, 160) if high else r.randint(105, 138)),
                                     "diastolic": str(r.randint(70, 88)), "heart_rate": str(r.randint(55, 100)),
                                     "spo2": str(r.randint(94, 100))})

        # scores: a baseline before treatment, then after sessions; CADSS and MOAA/S at sessions
        taken: set[tuple[dt.date, str]] = set()
        trend = r.choice([-0.6, -0.4, -0.2, 0.0, 0.15, 0.35])    # responder … worsening
        sev = r.uniform(0.35, 0.8)
        suicide_left = {"MADRS", "PHQ9", "HAMD17", "QIDS_SR16"} if p.suicidal else set()   # once per scale

        def score(code: str, on: dt.date, frac: float, sid: str = "") -> None:
            if (on, code) in taken or on > today:
                return
            taken.add((on, code))
            suicide = None
            sc = scales.SCALES[code]
            if sc.suicide_item and code in ("MADRS", "PHQ9", "HAMD17", "QIDS_SR16"):
                low = {"MADRS": 4, "PHQ9": 1, "HAMD17": 2, "QIDS_SR16": 1}[code]
                if code in suicide_left:          # a suicidal patient's first score of each scale says it
                    suicide = r.randint(low, sc.item_max)
                    suicide_left.discard(code)
                elif r.random() < 0.7:
                    suicide = r.randint(0, low - 1)
            with_items = r.random() < p.with_items
            if suicide is not None and suicide >= 1:     # a suicide answer comes with the items that hold it
                with_items = True
            total, items = _score(r, code, frac, suicide, with_items)
            c.add("assessments.csv", {"patient_id": p.pid, "assessed_on": on.isoformat(), "scale": code,
                                      "total": str(total), "items": ";".join(map(str, items)) if items else "",
                                      "session_id": sid})

        base_day = (done[0][1] if done else referral + dt.timedelta(days=7)) - dt.timedelta(
            days=r.choice([0, 1, 3, 7, 14, 45]))
        for code in p.scales:
            score(code, min(base_day, today), sev)
        for k, (sid, day, route) in enumerate(done, start=1):
            frac = max(0.0, min(1.0, sev * (1 + trend * min(k, 6) / 6) + r.uniform(-0.05, 0.05)))
            for code in p.scales:
                if r.random() < 0.6:
                    score(code, day + dt.timedelta(days=r.choice([0, 0, 1])), frac, sid if r.random() < 0.5 else "")
            if r.random() < 0.7:
                score("CADSS", day, r.choice([0.02, 0.05, 0.1, 0.25]), sid)
            if r.random() < 0.6:
                score("MOAAS", day, r.choice([1.0, 1.0, 0.8, 0.6, 0.4]), sid)
            if r.random() < 0.1:
                score("CSSRS", day, r.choice([0.0, 0.2, 0.5, 0.8]), sid)
        if r.random() < 0.15:
            score(r.choice(["PHQ2", "GAD7", "PHQ9_I9"]), min(base_day, today), r.uniform(0, 1))
    return c


def _blanks(r: random.Random, name: str, rows: list[dict], chance: float) -> list[dict]:
    """Random blanks in every optional column (each column blank in one row at least, where a row can lose it)."""
    sure = {col: r.randrange(len(rows)) for col in COLUMNS[name][0]} if rows else {}
    return [_blank(r, name, row, chance, {c for c, k in sure.items() if k == i}) for i, row in enumerate(rows)]


def _blank(r: random.Random, name: str, row: dict, chance: float, sure: set[str] = frozenset()) -> dict:
    """Random blanks in the optional columns of one row (those in sure for certain), within the row rules."""
    required = set(COLUMNS[name][1])
    out = dict(row)
    for col in row:
        if col in required or (col not in sure and r.random() >= chance):
            continue
        if name == "vitals.csv" and col in ("session_id", "minute", "patient_id", "measured_at"):
            in_session = row["session_id"] and row["minute"]
            if col in (("session_id", "minute") if in_session else ("patient_id", "measured_at")):
                continue          # the pair that places the reading stays
        if name == "assessments.csv" and col in ("total", "items") and not (out["total"] and out["items"]):
            continue              # a score keeps its total or its items
        out[col] = ""
    return out


def _write_csv(r: random.Random, name: str, columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    header = list(columns)
    if r.random() < 0.5:
        r.shuffle(header)                 # columns are found by name, in any order
    shown = [f" {h} " if r.random() < 0.1 else h for h in header]   # surrounding spaces tolerated
    w = csv.writer(out)
    w.writerow(shown)
    for row in rows:
        w.writerow([row.get(h, "") for h in header])
    text = out.getvalue()
    return ("\ufeff" + text) if r.random() < 0.1 else text          # a BOM tolerated


SHAPES = ("blanks", "minimal", "all")


@st.composite
def csv_folders(draw, min_patients: int = 1, max_patients: int = 6, max_sessions: int = 15) -> dict[str, str]:
    """A CSV import folder within data-contract §3: {file name: CSV text}. Every folder imports with no problem."""
    today = dt.date.today()
    shape = draw(st.sampled_from(SHAPES + ("mixed",)))
    shapes = {name: (draw(st.sampled_from(SHAPES)) if shape == "mixed" else shape) for name in FILE_ORDER}
    pids = draw(st.lists(id_texts, min_size=min_patients, max_size=max_patients, unique=True))
    patients = []
    for pid in pids:
        n = draw(st.one_of(st.just(0), st.integers(1, 3), st.integers(1, max_sessions)))
        depression = draw(st.lists(st.sampled_from(["MADRS", "PHQ9", "QIDS_SR16", "HAMD17", "BDI2"]), max_size=3,
                                   unique=True))
        patients.append(_Patient(
            pid=pid, n_sessions=n, route=draw(st.sampled_from(ROUTES)), switch_route=draw(st.booleans()) and n > 3
            and draw(st.booleans()), first_ago=draw(st.sampled_from([1, 2, 10, 25, 60, 200, 420])),
            suicidal=draw(st.booleans()), pre_high=draw(st.booleans()), post_high=draw(st.booleans()),
            scales=tuple(depression), with_items=draw(st.sampled_from([0.0, 0.5, 1.0])),
            with_vitals=draw(st.sampled_from([0.0, 0.6, 1.0])), seed=draw(st.integers(0, 2**32 - 1))))
    present = {name: name == "patients.csv" or draw(st.booleans()) or draw(st.booleans()) for name in FILE_ORDER}
    r = random.Random(draw(st.integers(0, 2**32 - 1)))
    session_ids = _session_ids(r, draw(st.sampled_from(["plain", "derived", "odd"])), pids)
    vitals_cols = _columns("vitals.csv", shapes["vitals.csv"])
    clinic = _clinic(patients, today, with_time_outside="measured_at" in vitals_cols, session_ids=session_ids)
    chance = draw(st.sampled_from([0.2, 0.5, 0.8]))
    files = {}
    for name in FILE_ORDER:
        if not present[name]:
            continue
        cols = _columns(name, shapes[name])
        rows = clinic.rows.get(name, [])
        rows = _fit(name, rows, cols, present)
        if shapes[name] == "blanks":
            rows = _blanks(r, name, rows, chance)
        files[name] = _write_csv(r, name, cols, rows)
    return files


def _columns(name: str, shape: str) -> list[str]:
    every, required = COLUMNS[name]
    if shape != "minimal":
        return list(every)
    keep = set(required) | set(MINIMAL_EXTRA.get(name, []))
    return [c for c in every if c in keep]


def _fit(name: str, rows: list[dict], cols: list[str], present: dict[str, bool]) -> list[dict]:
    """Rows of one file as its chosen columns can hold them: a reading placed by a pair the file lacks, or a row
    naming a session when no sessions file is imported, is left out; a score keeps its total when items are absent."""
    out = []
    for row in rows:
        row = dict(row)
        if name == "vitals.csv":
            by_session = bool(row["session_id"])
            if by_session and not present["sessions.csv"]:
                continue
            if not by_session and "measured_at" not in cols:
                continue
        if name == "side_effects.csv" and not present["sessions.csv"]:
            continue
        if name == "assessments.csv" and not present["sessions.csv"]:
            row["session_id"] = ""
        out.append({c: row.get(c, "") for c in cols})
    return out


def _session_ids(r: random.Random, style: str, pids: list[str]):
    """Unique session IDs in one of three styles, endlessly."""
    n, seen = 0, set()
    while True:
        n += 1
        if style == "plain":
            sid = f"S{n:05d}"
        elif style == "derived":
            sid = f"{r.choice(pids)[:50].strip()} #{n}"
        else:
            sid = _clean_id("".join(r.choice(_ID_ALPHABET) for _ in range(r.randint(1, 64))))
        if sid and sid not in seen and _good_id(sid):
            seen.add(sid)
            yield sid


def write_folder(files: dict[str, str], folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8"))   # no newline translation: the CSV's own line ends
    return folder


def describe(files: dict[str, str]) -> str:
    """A short account of a folder, for a failing example's notes."""
    parts = []
    for name, text in files.items():
        lines = text.lstrip("\ufeff").splitlines()
        n = len(list(csv.reader(io.StringIO(text)))) - 1
        parts.append(f"{name}: {n} rows, header {lines[0] if lines else ''!r}")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------------------
# a store as a clinic makes one

ADMIN_PASSWORD = "Real-shaped-store-2026!"


def _init_store(path: str):
    """What `init` does before it adds the administrator, in process (the function has moved between versions)."""
    try:
        from kdash.store import clinic_store as made_by_init
    except ImportError:
        from kdash.store import db
        return db.init_store(path)
    return made_by_init.create(path)


def clinic_store(path, sources, *, cli: bool = False, skip_invalid: bool = False):
    """`init` an empty store at path (`python -m kdash init` with cli, else the same in process), then import the
    sources (folders or FHIR files) with kdash.importing.run; the import report.

    sources: paths, or {file name: CSV text} dicts (written to folders beside the store). Without skip_invalid
    every source must import with no problem at all (and no warning); with it, something must be written."""
    from kdash import settings
    from kdash.importers import importing
    from kdash.store import db
    path = Path(path)
    paths = []
    for k, src in enumerate(sources if isinstance(sources, (list, tuple)) else [sources]):
        if isinstance(src, dict):
            src = write_folder(src, path.parent / f"{path.stem}-import-{k}")
        paths.append(str(src))
    if cli:
        done = subprocess.run([sys.executable, "-m", "kdash", "init", "--db", str(path), "--admin", "admin"],
                              input=ADMIN_PASSWORD + "\n", text=True, capture_output=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        con = db.connect(str(path), create=False)
    else:
        con = _init_store(str(path))
        from kdash.access import users
        users.add(con, settings.load(str(path)), "admin", "admin", ADMIN_PASSWORD, by="tests")
    try:
        rep = importing.run(con, settings.load(str(path)), paths, skip_invalid=skip_invalid)
    finally:
        con.close()
    if skip_invalid:
        assert rep.written.get("patients"), f"nothing imported: {rep.problems[:10]}"
    else:
        assert rep.ok, "the import was rejected:\n" + "\n".join(rep.problems[:40])
        assert not rep.warnings, rep.warnings
    return rep


# --------------------------------------------------------------------------------------------------------------
# the pages, as a signed-in user sees them

PAGE_FILES = {p: f"pages/{p}.py" for p in ("home", "roster", "patient", "eligibility", "record_session", "outcomes",
                                           "side_effects", "throughput", "conference", "users", "import_data",
                                           "audit", "flag_rules", "data_quality", "reference")}
# per patient: page → the query parameter it is opened with ("case": the patient's pseudonym)
PATIENT_PAGES = {"patient": "patient_id", "eligibility": "patient_id", "conference": "case",
                 "record_session": "patient_id"}

_TEXT_KINDS = ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
               "success", "toast", "code", "latex")


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _chart_texts(spec: dict) -> list[str]:
    """What a chart shows in words: titles, axis titles and labels, annotations, legend entries, text labels."""
    out = []
    layout = spec.get("layout", {})

    def title(t):
        if isinstance(t, dict):
            t = t.get("text")
        if isinstance(t, str):
            out.append(t)
    title(layout.get("title"))
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            title(axis.get("title"))
            out += [str(t) for t in axis.get("ticktext", []) or []]
    out += [a.get("text", "") for a in layout.get("annotations", []) or [] if isinstance(a, dict)]
    for trace in spec.get("data", []):
        if isinstance(trace.get("name"), str):
            out.append(trace["name"])
        for key in ("text", "x", "y"):
            v = trace.get(key)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, list):
                out += [x for x in v if isinstance(x, str)]
    return out


def _where(stack: list[str]) -> str:
    """The deepest frame of a traceback in the project's own code (kdash/, pages/, app.py), as 'path:line in f'."""
    frames = []
    for entry in stack:
        m = re.search(r'File "([^"]+)", line (\d+), in (\S+)', entry)
        if m:
            frames.append((m.group(1), m.group(2), m.group(3)))
    ours = [f for f in frames if f[0].startswith(str(ROOT)) and "/tests/" not in f[0]] or frames
    if not ours:
        return "?"
    path, line, func = ours[-1]
    return f"{path.removeprefix(str(ROOT) + '/')}:{line} in {func}"


def _failure(exc: BaseException) -> str:
    import traceback
    stack = traceback.format_exception(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} [{_where(stack)}]"


def visible_problems(at, table_nulls: bool = False) -> list[str]:
    """What went wrong on one run of the app, as a user would see it: an exception box; an error alert; a missing
    value written out as None / NaT / nan / <NA> in the page's words, tables, widget labels and charts."""
    problems = []
    for e in at.exception:
        message = e.proto.message.splitlines()[0] if e.proto.message else ""
        problems.append(f"exception: {e.proto.type}: {message} [{_where(list(e.proto.stack_trace))}]")
    for e in at.error:
        if e.value.startswith("**Not eligible**"):        # the eligibility verdict, not a problem
            continue
        problems.append(f"error alert: {e.value[:300]}")

    texts: list[tuple[str, str]] = []
    for kind in _TEXT_KINDS:
        for e in at.get(kind):
            texts.append((kind, str(e.value)))
    for m in at.metric:
        texts.append(("metric", f"{m.label}: {m.value} {m.proto.delta or ''}"))
    for node in _walk(at._tree):
        kind = getattr(node, "type", "")
        if kind in ("expander", "tab", "status") and getattr(node, "label", None):
            texts.append((kind, node.label))
        elif kind == "page_link":
            texts.append((kind, node.value))
    for kind in ("selectbox", "radio", "multiselect", "button_group", "select_slider"):
        for w in at.get(kind):
            texts += [(f"{kind} option", str(o)) for o in getattr(w, "options", [])]
            if getattr(w, "label", None):
                texts.append((f"{kind} label", w.label))
    for kind in ("text_input", "number_input", "date_input", "text_area", "checkbox", "toggle", "button",
                 "download_button", "form_submit_button", "slider"):
        for w in at.get(kind):
            label = getattr(w, "label", None) or getattr(w.proto, "label", "")
            if label:
                texts.append((f"{kind} label", label))
    for chart in at.get("plotly_chart"):
        try:
            spec = json.loads(chart.proto.spec)
        except (ValueError, AttributeError):
            continue
        texts += [("chart", t) for t in _chart_texts(spec)]
    for df_el in at.dataframe:
        try:
            df = df_el.value
        except Exception as exc:    # noqa: BLE001 - a table that cannot be read back is worth a line too
            problems.append(f"table unreadable: {exc!r}")
            continue
        texts += [("table header", str(c)) for c in df.columns]
        placeholder = df_el.proto.placeholder if df_el.proto.HasField("placeholder") else "None"
        if table_nulls and LEAK.fullmatch(placeholder) and len(df):
            empty = [str(c) for c in df.columns if df[c].isna().any()]
            if empty:         # st.dataframe draws a missing value as its placeholder, "None" unless one is given
                problems.append(f"None on screen (table): empty cells drawn as {placeholder!r} in column(s) "
                                f"{', '.join(empty)}")
        for col in df.columns:
            col_data = df[col]
            if col_data.dtype == object or str(col_data.dtype).startswith(("string", "str")):
                texts += [("table cell", f"{col}={v}") for v in col_data if isinstance(v, str) and LEAK.search(v)]
    seen = set()
    for kind, text in texts:
        m = LEAK.search(text)
        if m and (kind, text) not in seen:
            seen.add((kind, text))
            problems.append(f"{m.group(1)!s} on screen ({kind}): {text[:200]!r}")
    return problems


def link_problems(at, wanted: dict[str, str]) -> list[str]:
    """Links in the page's words that carry an ID parameter: each must decode back to an ID of the store
    (data-contract §3: links built from IDs are URL-encoded)."""
    from urllib.parse import parse_qs, urlsplit
    problems = []
    for kind in ("markdown", "caption", "info", "success", "warning"):
        for e in at.get(kind):
            for url in re.findall(r"\]\((/[^)]*\?[^)]*)\)", str(e.value)):
                q = parse_qs(urlsplit(url).query, keep_blank_values=True)
                for key in ("patient_id", "case"):
                    if key in q and q[key][0] not in wanted.get(key, ()):
                        problems.append(f"broken link ({kind}): {url!r} opens {key}={q[key][0]!r}")
    return problems


@contextlib.contextmanager
def _app_env(store_path: str):
    """KDASH_DB = the store, cwd = the project, empty Streamlit caches before and after (they are per process)."""
    import streamlit
    from streamlit.testing.v1.util import patch_config_options
    old_db, old_cwd = os.environ.get("KDASH_DB"), os.getcwd()
    os.environ["KDASH_DB"] = str(store_path)
    os.chdir(ROOT)
    streamlit.cache_data.clear()
    streamlit.cache_resource.clear()
    try:
        # the clinic's config hides exception details from users; a test wants the message and the traceback
        with patch_config_options({"client.showErrorDetails": "full"}):
            yield
    finally:
        streamlit.cache_data.clear()
        streamlit.cache_resource.clear()          # closes the app's connection to the store
        os.chdir(old_cwd)
        if old_db is None:
            os.environ.pop("KDASH_DB", None)
        else:
            os.environ["KDASH_DB"] = old_db


def _signed_in(role: str):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user"] = {"name": f"realshape-{role}", "role": role, "seen": time.time()}
    return at


def _run(at, page: str | None = None, query: dict | None = None):
    """One run of the app (a page of it), signed in a moment ago, so the idle sign-out never fires."""
    at.session_state["user"]["seen"] = time.time()
    at.query_params.clear()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if page is not None:
        at.switch_page(page)
    return at.run()


def store_patients(store_path: str) -> list[tuple[str, str]]:
    """(patient ID, case pseudonym) of every patient, in ID order."""
    from kdash.clinical import deid
    from kdash.store import db
    con = db.connect(str(store_path), create=False)
    try:
        ids = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY 1").fetchall()]
        return [(pid, deid.pseudonym(con, pid)) for pid in ids]
    finally:
        con.close()


def page_problems(store_path, patient_ids=None, roles=None, patient_pages=None,
                  table_nulls: bool | None = None) -> list[str]:
    """Every problem a user would see: every page as every role that may open it, then (as a clinician) the
    patient, eligibility, case-conference and record-session pages of every patient (or of patient_ids).
    Each problem reads "<page> [as <role>] [patient <id>]: <what>".

    table_nulls: also count a table's empty cells, which st.dataframe draws as a grey "None" unless the page gives
    it a placeholder (on by default: every kdash table gives one; KDASH_REALSHAPE_TABLE_NULLS=0 turns it off)."""
    from kdash import access
    if table_nulls is None:
        table_nulls = os.environ.get("KDASH_REALSHAPE_TABLE_NULLS", "1") == "1"
    store_path = str(store_path)
    everyone = store_patients(store_path)
    case_of = dict(everyone)
    wanted = {"patient_id": set(case_of), "case": set(case_of.values())}
    pids = [p for p, _ in everyone] if patient_ids is None else list(patient_ids)
    problems: list[str] = []

    def check(at, where: str) -> None:
        problems.extend(f"{where}: {p}" for p in visible_problems(at, table_nulls) + link_problems(at, wanted))

    with _app_env(store_path):
        for role in roles or access.ROLES:
            at = _signed_in(role)
            try:
                _run(at)
                check(at, f"landing page as {role}")
                for page in access.pages_for(role):
                    _run(at, PAGE_FILES[page])
                    check(at, f"{PAGE_FILES[page]} as {role}")
            except Exception as exc:   # noqa: BLE001 - an app run that does not finish (timeout) is a problem too
                problems.append(f"{role}: the app run did not finish: {_failure(exc)}")
        for pid in pids:
            at = _signed_in("clinician")
            try:
                _run(at)
                for page, key in (patient_pages or PATIENT_PAGES).items():
                    value = case_of[pid] if key == "case" else pid
                    _run(at, PAGE_FILES[page], {key: value})
                    check(at, f"{PAGE_FILES[page]} patient {pid!r}")
                    if not at.exception and not at.title:
                        problems.append(f"{PAGE_FILES[page]} patient {pid!r}: the page has no title")
            except Exception as exc:   # noqa: BLE001
                problems.append(f"patient {pid!r}: the app run did not finish: {_failure(exc)}")
    return problems


# --------------------------------------------------------------------------------------------------------------
# the two evaluations of the safety rules

def flag_mismatches(store_path) -> list[str]:
    """Python rules (kdash.patient.flags → rules.evaluate, the patient page) against the SQL rules over all time
    (the flag log the roster and home page read, as the dashboard brings it up to date on opening the store, and
    sql/open_flags.sql evaluated live), for every patient: the differences in (rule, day), as tests/unit/test_rules.py
    compares them on the demo (the evidence texts differ by design: the patient page says more). Empty when the two
    agree."""
    from kdash import settings
    from kdash.clinical import patient, rules
    from kdash.store import db, derived, flag_log
    store_path = str(store_path)
    cfg = settings.load(store_path)
    con = db.connect(store_path, create=False)
    out = []
    try:
        derived.ensure_current(con, cfg)               # what the dashboard does when it opens the store
        since, until = flag_log.ALL_TIME
        log = con.execute("SELECT patient_id, rule, day, value FROM flag_log WHERE severity <> 'clear'").fetchall()
        live = db.query(con, "open_flags", {**rules.flag_params(cfg, since, until)})
        sql_paths = {"flag log": {(p, r, _as_date(d), v) for p, r, d, v in log},
                     "open_flags.sql": {(p, r, _as_date(d), v)
                                        for p, r, d, v in zip(live.patient_id, live.rule, live.day, live.value)}}
        python = set()
        for (pid,) in con.execute("SELECT patient_id FROM patients ORDER BY 1").fetchall():
            try:
                python |= {(pid, f.rule, f.day, f.value) for f in patient.flags(con, cfg, pid)}
            except Exception as exc:   # noqa: BLE001 - the rules failing on a record is a difference too
                out.append(f"patient {pid!r}: the Python rules raise {_failure(exc)}")
                python |= {x for x in sql_paths["flag log"] if x[0] == pid}     # no second line per flag
    finally:
        con.close()
    py_keys = {x[:3] for x in python}
    for name, sql in sql_paths.items():
        sql_keys = {x[:3] for x in sql}
        for p, r, d in sorted(py_keys - sql_keys, key=str):
            out.append(f"patient {p!r}: {r} on {d} in Python only, not in the {name}")
        for p, r, d in sorted(sql_keys - py_keys, key=str):
            out.append(f"patient {p!r}: {r} on {d} in the {name} only, not in Python")
    return out


def _as_date(d) -> dt.date:
    import pandas as pd
    return pd.Timestamp(d).date()


def summarise(problems: list[str]) -> list[str]:
    """Problems grouped by kind, the patient and the words on screen left out: "[count] one example" each, in the
    order first seen (a failing store often shows one bug on many patients)."""
    groups: dict[str, list[str]] = {}
    for p in problems:
        key = re.sub(r"patient (\"[^\"]*\"|'[^']*')", "patient …", p)
        key = re.sub(r"(on screen \([^)]*\)): .*", r"\1", key)
        key = re.sub(r"(error alert|broken link \([^)]*\)): .*", r"\1", key)
        key = re.sub(r"\d{4}-\d\d-\d\d", "…", key)
        groups.setdefault(key, []).append(p)
    return [f"[{len(v)}×] {v[0]}" for v in groups.values()]

