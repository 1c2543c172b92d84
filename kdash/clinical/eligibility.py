"""The eligibility checklist of clinical reference §2, computed from the record with its evidence.

`evaluate` is a pure function of one patient's facts; `facts` loads them for many patients in a few
queries. The page, the CLI (data-contract §5) and the tests all go through `checklist`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from kdash import scales, vocab
from kdash.store import db

ROUTES = ("iv_ketamine", "esketamine")
GROUPS = ("Indication", "Absolute contraindications", "Warnings", "Work-up")
LABEL = "SPRAVATO (esketamine) US prescribing information"
EU_PEARL = "EU-PEARL TRD consensus (Sforzini 2022)"
# The criteria kdash adds to the label's and the consensus's, listed in clinical reference §2 as clinic defaults.
KDASH_DEFAULT = "a kdash default the clinic can change (clinical reference §2)"
ABSOLUTE = {"aneurysmal_vascular_disease": "aneurysmal vascular disease",
            "arteriovenous_malformation": "arteriovenous malformation",
            "intracerebral_hemorrhage": "history of intracerebral haemorrhage",
            "ketamine_hypersensitivity": "hypersensitivity to ketamine or esketamine"}
WARNINGS = {  # code: (label, screening items, source)
    "pregnancy": ("Pregnancy", {"pregnancy": "pregnant or possibly pregnant"}, LABEL + ": not recommended"),
    "psychosis": ("Psychosis", {"psychosis_current": "psychotic symptoms in this episode",
                                "psychotic_disorder_history": "lifetime psychotic disorder"}, LABEL),
    "substance_use": ("Substance use", {"substance_use_disorder_3m": "substance or alcohol use disorder, past 3 months",
                                        "ketamine_or_pcp_misuse": "prior ketamine or PCP misuse"}, LABEL),
    "medical": ("Cardiovascular and neurological", {
        "unstable_cardiovascular": "unstable cardiovascular or cerebrovascular disease",
        "sleep_apnea_untreated": "untreated obstructive sleep apnoea",
        "seizures_unexplained": "seizures of unknown cause",
        "severe_head_injury": "severe head injury",
        "raised_intracranial_pressure": "raised intracranial pressure"}, LABEL + "; Sanacora 2017"),
    "hepatic": ("Liver", {"hepatic_impairment_moderate": "moderate hepatic impairment",
                          "hepatic_impairment_severe": "severe hepatic impairment (not recommended)"}, LABEL),
    "cystitis": ("Bladder", {"cystitis": "ulcerative or interstitial cystitis"}, "clinical reference §2"),
    "cognition": ("Cognition and consent capacity", {"cognitive_impairment": "cognitive impairment or inability "
                                                                              "to consent"}, "clinical reference §2"),
}
WORKUP = {"ecg_done": "ECG", "liver_kidney_tests_done": "liver and kidney function", "stop_bang_done": "STOP-BANG",
          "pregnancy_test_done": "pregnancy test"}
DIAGNOSES = vocab.DIAGNOSES


@dataclass
class Facts:
    """One patient's record, as far as eligibility needs it."""
    patient_id: str
    birth_date: dt.date | None
    sex: str | None
    diagnosis: str | None
    first_day: dt.date | None = None
    route: str | None = None
    first_start: dt.datetime | None = None   # when the first completed session started (else was scheduled)
    trials: list[dict] = field(default_factory=list)
    screening: dict[str, tuple[str, dt.date | None]] = field(default_factory=dict)
    bp: list[tuple[dt.datetime, int, int]] = field(default_factory=list)
    scores: list[tuple[dt.date, str, int]] = field(default_factory=list)
    decisions: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)     # screening item → where the answer came from


def _item(code, group, label, status, detail, source) -> dict:
    return {"code": code, "group": group, "label": label, "status": status, "detail": detail, "source": source}


def _day_of(x) -> dt.date:
    return x.date() if isinstance(x, dt.datetime) else x


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _scale_name(code: str) -> str:
    """'PHQ-9' for PHQ9: a scale as clinicians write it, never the store's code."""
    return scales.SCALES[code].name if code in scales.SCALES else code


def _as_of(f: Facts, today: dt.date) -> dt.date:
    """Eligibility is judged before the first treatment: on that day if there was one, else today."""
    return f.first_day or today


def adult(f: Facts, cfg: dict, today: dt.date) -> dict:
    e = cfg["eligibility"]
    if f.birth_date is None:
        return _item("adult", "Indication", "Adult, within the age policy", "unknown", "no birth date on file",
                     "clinical reference §2")
    age = _age(f.birth_date, _as_of(f, today))
    if age < e["min_age"]:   # clinical reference §2 lists "age outside 18–65" under Warnings: review, not a bar
        status, detail = "warning", (f"age {age}: under {e['min_age']}, outside the clinic's age policy "
                                     f"{e['min_age']}–{e['max_age']}")
    elif age > e["max_age"]:
        status, detail = "warning", f"age {age}: outside the clinic's age policy {e['min_age']}–{e['max_age']}"
    else:
        status, detail = "met", f"age {age}"
    if f.first_day is not None and age != _age(f.birth_date, today):   # the header shows today's age
        detail += f" at the first treatment ({f.first_day:%Y-%m-%d})"
    return _item("adult", "Indication", "Adult, within the age policy", status, detail,
                 "clinical reference §2 (age ceiling: an Ontario IV clinic's policy)")


def diagnosis(f: Facts, cfg: dict, today: dt.date) -> dict:
    d = f.diagnosis
    if d is None:
        status, detail = "unknown", "no primary diagnosis on file"
    elif d in ("mdd", "pdd"):
        status, detail = "met", f"depressive episode: {DIAGNOSES[d]}"
    else:
        status, detail = "warning", f"{DIAGNOSES.get(d, d)}: outside the esketamine indication, review"
    return _item("diagnosis", "Indication", "Depressive episode", status, detail,
                 LABEL + "; " + EU_PEARL + ("" if status == "met" else "; review of another diagnosis: " + KDASH_DEFAULT))


def trial_adequacy(trial: dict, cfg: dict, today: dt.date) -> tuple[str, str]:
    """('adequate' | 'not counted' | 'unknown', why) for one antidepressant trial."""
    e = cfg["eligibility"]
    name = str(trial["drug"]).strip().lower()
    dose, start, end = trial["dose_mg_per_day"], trial["start_date"], trial["end_date"]
    weeks = ((end or today) - start).days / 7
    desc = f"{name} {dose:g} mg {weeks:.0f} wk"
    minimum = e["min_dose_mg_per_day"].get(name)
    if not trial.get("current_episode", True):
        return "not counted", f"{desc}: an earlier episode"
    if trial["outcome"] == "intolerance":
        return "not counted", f"{desc}: stopped for intolerance (not a failure of efficacy)"
    if trial["outcome"] == "ongoing":
        return "not counted", f"{desc}: still ongoing"
    if trial["outcome"] == "response":
        return "not counted", f"{desc}: responded"
    if trial["outcome"] == "unknown":
        return "unknown", f"{desc}: outcome not recorded"
    if minimum is None:
        return "unknown", f"{desc}: no minimum dose on file for {name}"
    if dose < minimum:
        return "not counted", f"{desc}: dose under the minimum {minimum:g} mg/day"
    if weeks < e["adequate_weeks"]:
        return "not counted", f"{desc}: shorter than {e['adequate_weeks']} weeks"
    return "adequate", f"{desc}: " + ("no response" if trial["outcome"] == "no_response" else "partial response")


def trd(f: Facts, cfg: dict, today: dt.date) -> dict:
    need = cfg["eligibility"]["min_failed_trials"]
    label, source = f"Treatment-resistant: ≥ {need} failed adequate trials", EU_PEARL + "; clinical reference §2"
    if not f.trials:
        return _item("trd", "Indication", label, "unknown", "no antidepressant trial history on file: the number of "
                     "failed trials is unknown, not zero", source + "; unknown when no history is on file: " + KDASH_DEFAULT)
    judged = [trial_adequacy(t, cfg, _as_of(f, today)) for t in f.trials]
    adequate = [why for kind, why in judged if kind == "adequate"]
    unknown = [why for kind, why in judged if kind == "unknown"]
    other = [why for kind, why in judged if kind == "not counted"]
    parts = [f"{len(adequate)} adequate failed trial{'s' if len(adequate) != 1 else ''}"
             + (": " + "; ".join(adequate) if adequate else "")]
    if unknown:
        parts.append("cannot judge: " + "; ".join(unknown))
    if other:
        parts.append("not counted: " + "; ".join(other))
    status = "met" if len(adequate) >= need else "unknown" if len(adequate) + len(unknown) >= need else "not_met"
    return _item("trd", "Indication", label, status, " · ".join(parts), source)


def severity(f: Facts, cfg: dict, today: dt.date) -> dict:
    label, floor = "Baseline severity", cfg["eligibility"]["min_baseline"]
    cut = _as_of(f, today)
    before = [s for s in f.scores if s[0] <= cut and s[1] in floor]
    if not before:
        return _item("severity", "Indication", label, "unknown", "no depression score before treatment",
                     "review of a mild baseline: " + KDASH_DEFAULT)
    main = cfg["clinic"]["main_scale"]
    chosen = [s for s in before if s[1] == main] or before
    day, scale, total = chosen[-1]
    limit = cfg["outcomes"]["baseline_lookback_days"]
    if (cut - _day_of(day)).days > limit:      # old evidence is not a baseline (clinical reference §1 look-back)
        return _item("severity", "Indication", label, "unknown",
                     f"out of date: {_scale_name(scale)} {total} on {day:%Y-%m-%d}, more than {limit} days before "
                     + ("the first treatment" if f.first_day else "today") + "; score the patient again",
                     "baseline within the look-back of clinical reference §1: " + KDASH_DEFAULT)
    ok = total >= floor[scale]
    return _item("severity", "Indication", label, "met" if ok else "warning",
                 f"{_scale_name(scale)} {total} on {day:%Y-%m-%d}"
                 + ("" if ok else f": under {floor[scale]}, milder than moderate"),
                 "review of a mild baseline (below the scale's moderate band, clinical reference §1): " + KDASH_DEFAULT)


def _sourced(f: Facts, item: str, label: str) -> str:
    """An item's label with where its answer came from, when the record says ("from the record: Condition …")."""
    source = f.sources.get(item)
    return f"{label} ({source})" if source else label


def absolute(f: Facts, cfg: dict, today: dt.date) -> dict:
    label = "No absolute contraindication"
    answers = {k: f.screening.get(k, ("unknown", None))[0] for k in ABSOLUTE}
    present = [_sourced(f, k, ABSOLUTE[k]) for k, v in answers.items() if v == "present"]
    unknown = [ABSOLUTE[k] for k, v in answers.items() if v == "unknown"]
    if present:
        return _item("absolute_contraindications", "Absolute contraindications", label, "not_met",
                     "present: " + "; ".join(present), LABEL + " (contraindications; applied to IV ketamine too)")
    if unknown:
        return _item("absolute_contraindications", "Absolute contraindications", label, "unknown",
                     "not assessed: " + "; ".join(unknown), LABEL)
    return _item("absolute_contraindications", "Absolute contraindications", label, "met",
                 "none of " + ", ".join(ABSOLUTE.values()), LABEL)


def blood_pressure(f: Facts, cfg: dict, today: dt.date) -> dict:
    e, label = cfg["eligibility"], "Blood pressure at screening"
    # "the latest reading outside a session before the first treatment" (data-contract §3): before the first
    # completed session started, so a reading on the morning of that day counts and one after it does not
    if f.first_start is not None:
        readings = [b for b in f.bp if b[0] < f.first_start]
    elif f.first_day is not None:   # a start time unknown to the caller: the treatment day is excluded
        readings = [b for b in f.bp if b[0] < dt.datetime.combine(f.first_day, dt.time.min)]
    else:
        readings = [b for b in f.bp if b[0] <= dt.datetime.combine(today, dt.time.max)]
    source = LABEL + " (consider delaying above 140/90); many IV trials excluded > 160/90"
    if not readings:
        return _item("blood_pressure", "Warnings", label, "unknown", "no reading outside a session before treatment",
                     source)
    at, sys_, dia = readings[-1]
    before = f.first_day or today
    if (before - at.date()).days > e["bp_valid_days"]:      # a reading from long ago says nothing of today's pressure
        return _item("blood_pressure", "Warnings", label, "unknown",
                     f"out of date: {sys_}/{dia} mmHg on {at:%Y-%m-%d}, more than {e['bp_valid_days']} days before "
                     + ("the first treatment" if f.first_day else "today") + "; measure it again", source)
    high = sys_ > e["bp_systolic_max"] or dia > e["bp_diastolic_max"]
    detail = f"{sys_}/{dia} mmHg on {at:%Y-%m-%d}" + (
        f": above {e['bp_systolic_max']}/{e['bp_diastolic_max']}" if high else "")
    return _item("blood_pressure", "Warnings", label, "warning" if high else "met", detail, source)


def _valid(answer: tuple[str, dt.date | None], cfg: dict, today: dt.date) -> str:
    status, on = answer
    if on is not None and (today - on).days > cfg["eligibility"]["screening_valid_days"] and status != "present":
        return "unknown"   # an old 'absent' no longer reassures
    return status


def warning_item(code: str):
    label, items, source = WARNINGS[code]

    def check(f: Facts, cfg: dict, today: dt.date) -> dict:
        if code == "pregnancy" and f.sex == "M":
            return _item(code, "Warnings", label, "met", "not applicable (male)", source)
        answers = {k: _valid(f.screening.get(k, ("unknown", None)), cfg, _as_of(f, today)) for k in items}
        present = [_sourced(f, k, items[k]) for k, v in answers.items() if v == "present"]
        unknown = [items[k] for k, v in answers.items() if v == "unknown"]
        if present:
            return _item(code, "Warnings", label, "warning", "present: " + "; ".join(present), source)
        if unknown:
            return _item(code, "Warnings", label, "unknown", "not assessed: " + "; ".join(unknown), source)
        return _item(code, "Warnings", label, "met", "screened, not present: " + "; ".join(items.values()), source)
    return check


def workup(f: Facts, cfg: dict, today: dt.date) -> dict:
    needed = dict(WORKUP)
    age = _age(f.birth_date, _as_of(f, today)) if f.birth_date else None
    if f.sex == "M" or (age is not None and age > cfg["eligibility"]["pregnancy_test_max_age"]):
        needed.pop("pregnancy_test_done")
    missing = [label for k, label in needed.items() if f.screening.get(k, ("unknown", None))[0] != "present"]
    status = "not_met" if missing else "met"
    detail = ("missing: " + ", ".join(missing)) if missing else "done: " + ", ".join(needed.values())
    return _item("workup", "Work-up", "Work-up before the first treatment", status, detail,
                 "clinical reference §2 (typical clinic work-up)")


def consent(f: Facts, cfg: dict, today: dt.date) -> dict:
    ok = f.screening.get("consent_signed", ("unknown", None))[0] == "present"
    return _item("consent", "Work-up", "Informed consent", "met" if ok else "not_met",
                 "signed" if ok else "no signed consent on file", "clinical reference §2")


def rems(f: Facts, cfg: dict, today: dt.date, route: str) -> dict:
    if route != "esketamine":
        return _item("rems", "Work-up", "REMS enrolment (esketamine)", "met", "not applicable to this route",
                     LABEL + " REMS")
    ok = f.screening.get("rems_enrolled", ("unknown", None))[0] == "present"
    return _item("rems", "Work-up", "REMS enrolment (esketamine)", "met" if ok else "not_met",
                 "enrolled" if ok else "not enrolled in the SPRAVATO REMS", LABEL + " REMS")


CHECKS = (adult, diagnosis, trd, severity, absolute, blood_pressure, *(warning_item(c) for c in WARNINGS),
          workup, consent)


def verdict(items: list[dict]) -> str:
    """clinical reference §2: an absolute contraindication or fewer than 2 adequate failed trials → not eligible;
    otherwise any warning (an age outside the policy among them), unknown item or missing work-up → needs review;
    else eligible."""
    status = {i["code"]: i["status"] for i in items}
    if status.get("absolute_contraindications") == "not_met" or status.get("trd") == "not_met":
        return "not_eligible"
    if any(i["status"] != "met" for i in items):
        return "needs_review"
    return "eligible"


def evaluate(f: Facts, route: str, cfg: dict, today: dt.date) -> dict:
    items = [check(f, cfg, today) for check in CHECKS] + [rems(f, cfg, today, route)]
    decision = f.decisions.get(route)
    return {"patient_id": f.patient_id, "route": route, "verdict": verdict(items), "items": items,
            "override": decision}


def facts(con: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> dict[str, Facts]:
    """Facts for these patients (None: everyone), in six queries."""
    p = {"ids": patient_ids}
    out: dict[str, Facts] = {}
    for r in db.query(con, "eligibility_facts", p).itertuples():
        out[r.patient_id] = Facts(r.patient_id, _date(r.birth_date), r.sex, _none(r.primary_diagnosis),
                                  _date(r.first_day), _none(r.route), first_start=_time(r.first_start))
    for r in db.query(con, "eligibility_trials", p).itertuples():
        out[r.patient_id].trials.append({"drug": r.drug, "dose_mg_per_day": float(r.dose_mg_per_day),
                                         "start_date": _date(r.start_date), "end_date": _date(r.end_date),
                                         "outcome": r.outcome, "current_episode": bool(r.current_episode)})
    for r in db.query(con, "eligibility_screening", p).itertuples():
        out[r.patient_id].screening[r.item] = (r.status, _date(r.assessed_on))
        if _none(r.source):
            out[r.patient_id].sources[r.item] = r.source
    for r in db.query(con, "eligibility_bp", p).itertuples():
        out[r.patient_id].bp.append((pd.Timestamp(r.measured_at).to_pydatetime(), int(r.systolic), int(r.diastolic)))
    for r in db.query(con, "eligibility_scores", p).itertuples():
        out[r.patient_id].scores.append((_date(r.assessed_on), r.scale, int(r.total)))
    for r in db.query(con, "eligibility_decisions", p).itertuples():
        out[r.patient_id].decisions[r.route] = {
            "kind": r.kind, "verdict": r.verdict, "reason": _none(r.reason), "decided_by": r.decided_by,
            "decided_at": pd.Timestamp(r.decided_at).isoformat(timespec="minutes")}
    return out


def _none(x):
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x


def _date(x) -> dt.date | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date()


def _time(x) -> dt.datetime | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).to_pydatetime()


def checklist(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_id: str | None = None,
              route: str | None = None) -> list[dict]:
    """The checklist for one patient or everyone; route defaults to the patient's own (else IV ketamine)."""
    found = facts(con, None if patient_id is None else [patient_id])
    return [evaluate(f, _route(route, f), cfg, today) for f in found.values()]


def undecided(result: dict | None, treated: bool) -> bool:
    """Treated while the computed verdict is not "eligible" and no clinician's decision (sign-off or override) is on
    file for the route: a review prompt, "treated without an eligibility decision" (clinical reference §2: a
    clinician may override a verdict only with a written reason). A computed "eligible" is its own record."""
    return bool(treated and result is not None and result["override"] is None and result["verdict"] != "eligible")


def undecided_among(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_ids: list[str]) -> set[str]:
    """Of these patients, those treated without an eligibility decision (see undecided)."""
    if not patient_ids:
        return set()
    found = facts(con, patient_ids)
    return {pid for pid, f in found.items()
            if undecided(evaluate(f, _route(None, f), cfg, today), f.first_day is not None)}


def to_contract(result: dict) -> dict:
    """The data-contract §5 shape."""
    return {"patient_id": result["patient_id"], "route": result["route"], "verdict": result["verdict"],
            "items": [{"code": i["code"], "status": i["status"], "detail": i["detail"]} for i in result["items"]],
            "override": result["override"]}


def awaiting(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, limit: int = 100) -> pd.DataFrame:
    """Referred patients not yet treated and not yet decided, with the computed verdict."""
    since = today - dt.timedelta(days=cfg["eligibility"]["awaiting_days"])
    waiting = db.query(con, "awaiting_decision", {"limit": limit, "since": since})
    if waiting.empty:
        return waiting.assign(route=[], verdict=[], to_check=[])
    results = {r["patient_id"]: r for r in checklist_for(con, cfg, today, list(waiting["patient_id"]))}
    waiting["route"] = [results[p]["route"] for p in waiting["patient_id"]]
    waiting["verdict"] = [results[p]["verdict"] for p in waiting["patient_id"]]
    waiting["to_check"] = [", ".join(i["label"] for i in results[p]["items"] if i["status"] != "met")
                           for p in waiting["patient_id"]]
    return waiting


def checklist_for(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_ids: list[str],
                  route: str | None = None) -> list[dict]:
    found = facts(con, patient_ids)
    return [evaluate(f, _route(route, f), cfg, today) for f in found.values()]


def _route(route: str | None, f: Facts) -> str:
    chosen = route or f.route
    return chosen if chosen in ROUTES else "iv_ketamine"


def trial_table(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date) -> pd.DataFrame:
    """The patient's trial history with the adequacy of each trial and why."""
    found = facts(con, [patient_id]).get(patient_id)
    if found is None or not found.trials:
        return pd.DataFrame()
    rows = []
    for t in found.trials:
        kind, why = trial_adequacy(t, cfg, _as_of(found, today))
        rows.append({"drug": t["drug"], "mg/day": t["dose_mg_per_day"], "start": t["start_date"],
                     "end": t["end_date"], "outcome": t["outcome"].replace("_", " "),
                     "current episode": t["current_episode"],
                     "counts as failed adequate trial": {"adequate": "yes", "unknown": "cannot judge"}.get(kind, "no"),
                     "why": why.split(": ", 1)[-1]})
    return pd.DataFrame(rows)
