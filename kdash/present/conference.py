"""Case-conference packs: what a de-identified presentation of one patient or one cohort holds.

A Pack is the one source for the conference page, the PDF handout and the PPTX deck, so what is
shown in the room and what is handed out are the same figures and tables. Everything in a pack
goes through kdash.deid: a pseudonym instead of the patient, day numbers instead of dates, age
bands instead of ages, and no cohort cell under 5 patients.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from kdash import scales, vocab
from kdash.clinical import deid, eligibility, outcomes, patient, rules, side_effects
from kdash.store import db

FOOTER = "Confidential · de-identified · for case conference use only"
SYNTHETIC = "SYNTHETIC DEMO DATA, no real patient"
SEX = {"F": "female", "M": "male", "X": "sex X"}
SET_NAMES = {"itt": "all treated (last score, else baseline, carried forward)",
             "completers": "completers of induction (observed scores)"}


@dataclass
class Figure:
    key: str
    title: str
    caption: str
    fig: dict


@dataclass
class Table:
    title: str
    df: pd.DataFrame


@dataclass
class Pack:
    kind: str                       # "patient" or "cohort"
    title: str                      # "Case 7QX2-K9MD" or "Cohort: …"
    summary: list[str]              # short lines for the title slide and the top of the page
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    refusal: str | None = None      # why nothing can be shown (too few patients)
    patient_id: str | None = None   # for the audit trail only: never drawn, never exported
    synthetic: bool = False         # from a demo store: every page and slide says so
    footer: str = FOOTER

    @property
    def footer_line(self) -> str:
        return (SYNTHETIC + " · " if self.synthetic else "") + self.footer

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")


def _expected_course(con, cfg: dict, patient_id: str, pack: Pack) -> None:
    """The patient's change over the clinic's expected course (clinical reference §9), by session number: no date."""
    from kdash.clinical import course
    from kdash.present import charts
    doc = course.course(con, cfg, patient_id)
    if doc is None or not doc["patient"]:
        return
    sentence = doc["sentence"]
    pack.summary.append("Expected course: " + sentence)
    if doc["expected"]:
        fig = charts.expected_course(doc, x_label="Sessions given (day 0 = the first)",
                                     response_pct=cfg["outcomes"]["response_pct"])
        pack.figures.append(_deid_figure("expected_course", "Against the clinic's earlier courses", sentence, fig))


def _deid_figure(key: str, title: str, caption: str, fig) -> Figure:
    from kdash.present import charts
    return Figure(key, title, caption, charts.for_presentation(fig))


# ---------------------------------------------------------------- one patient

def recent_cases(con: duckdb.DuckDBPyConnection, cfg: dict, limit: int = 300) -> pd.DataFrame:
    """Treated patients as pickable cases (up to `limit` of the most recently treated), in the order of their case
    codes: an order by treatment date would let a presenter read dates back from "day N" (issue 19). Pseudonym and a
    de-identified label; the patient ID stays in the frame for the page to act on and is never shown."""
    from kdash.present import charts
    from kdash.store import db
    rows = db.query(con, "recent_cases", {"limit": limit})
    key = deid.secret(con)
    rows["case"] = [deid.pseudonym_with(key, pid) for pid in rows["patient_id"]]
    rows["label"] = [f"{case} · {charts.ROUTE_NAMES.get(r, r)} · {n} session{'s' if n != 1 else ''} · "
                     f"{deid.age_band(age)} {SEX.get(sex, '')}"
                     for case, r, n, age, sex in zip(rows["case"], rows["route"], rows["n_sessions"], rows["age"],
                                                     rows["sex"])]
    return rows[["case", "label", "patient_id"]].sort_values("case", kind="stable").reset_index(drop=True)


def pack_for_case(con: duckdb.DuckDBPyConnection, cfg: dict, case: str, today: dt.date) -> Pack | None:
    """The pack of the patient behind a case code (None: no such case in this store)."""
    patient_id = deid.find_case(con, case)
    return None if patient_id is None else patient_pack(con, cfg, patient_id, today)


def failed_trials(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date) -> int | None:
    """Failed adequate trials on file; None when the record holds no trial that can be judged (unknown, never 0)."""
    trials = eligibility.trial_table(con, cfg, patient_id, today)
    judged = trials[trials["counts as failed adequate trial"] != "cannot judge"] if len(trials) else trials
    if judged.empty:
        return None
    return int((judged["counts as failed adequate trial"] == "yes").sum())


def patient_pack(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date) -> Pack | None:
    """The presentation of one patient, or None when there is no such patient."""
    from kdash.present import charts
    h = patient.header(con, cfg, patient_id, today)
    if h is None:
        return None
    rec = patient.record(con, cfg, patient_id)
    done = patient.completed_sessions(rec).copy()
    first = done["day"].iloc[0] if len(done) else None
    done["day_number"] = [deid.day_number(d, first) for d in done["day"]]
    age_then = _age_on(h["birth_date"], first or today)
    route = h["route"] if isinstance(h["route"], str) else None
    summary = [" · ".join([f"Age {deid.age_band(age_then)}", SEX.get(h["sex"], "sex unknown"),
                           eligibility.DIAGNOSES.get(h["primary_diagnosis"], "diagnosis not recorded"),
                           charts.ROUTE_NAMES.get(route, "no treatment yet"),
                           _trials_phrase(failed_trials(con, cfg, patient_id, today))])]
    if len(done):
        summary.append(f"{len(done)} completed session{'s' if len(done) != 1 else ''} from day 0 to day "
                       f"{int(done['day_number'].iloc[-1])}; phase now: {patient.phase(h, today, cfg)}")
    pack = Pack("patient", deid.pseudonym(con, patient_id), summary, patient_id=patient_id, synthetic=db.is_demo(con))
    main = scales.SCALES[cfg["clinic"]["main_scale"]]
    codes = [main.code] + [c for c in scales.DEPRESSION_SCALES if c != main.code]
    for code in codes:
        scores = patient.scale_scores(rec, code)
        if scores.empty:
            continue
        scale = scales.SCALES[code]
        status, sentence = patient.status_line(rec, scale, cfg)
        pack.summary.append(sentence)
        base = rules.baseline(rec, code, cfg)
        when = [deid.day_label(deid.day_number(d, first)) for d in scores["assessed_on"]]
        fig = charts.mood_trend(scores, done, scale, base[0] if base else None, cfg["remission"].get(code),
                                cfg["outcomes"]["response_pct"], "session", when=when)
        pack.figures.append(_deid_figure(f"trend_{code.lower()}", f"{scale.name} over the course", sentence, fig))
        pack.tables.append(Table(f"{scale.name} scores", vocab.readable(pd.DataFrame({
            "day": [deid.day_number(d, first) for d in scores["assessed_on"]],
            "after_session": scores["after_session"].astype(int), "total": scores["total"].astype(int),
            "reported_by": ["patient (self-reported)" if x == "self_report" else "staff or record"
                            for x in scores.get("source", [None] * len(scores))]}))))
        if code == cfg["clinic"]["main_scale"]:
            _expected_course(con, cfg, patient_id, pack)
        break   # one depression scale on the slides: the clinic's main one, or the one this patient has
    if len(done):
        pack.figures.append(_deid_figure("sessions", "Sessions and doses",
                                         "Each completed session at its dose, numbered, by day since the first.",
                                         charts.session_timeline(done)))
        pack.tables.append(Table("Sessions", vocab.readable(pd.DataFrame({
            "session_number": done["session_number"].astype(int), "day": done["day_number"].astype(int),
            "route": done["route"], "phase": done["phase"], "dose_mg": done["dose_mg"],
            # each route's dose in its own unit: esketamine is a fixed dose of 28 mg devices, never mg/kg
            "mg_per_kg": done["mg_per_kg"].round(2).where(done["route"] != "esketamine"),
            "devices": (done["dose_mg"] / 28).round(0).where(done["route"] == "esketamine")}))))
    s = cfg["safety"]
    bp = patient.bp_by_session(rec)
    if len(bp):
        pack.figures.append(_deid_figure(
            "blood_pressure", "Blood pressure per session",
            f"Before dosing, at ~40 minutes and at discharge; caution above {s['predose_systolic_max']}/"
            f"{s['predose_diastolic_max']} before, limit above {s['postdose_systolic_max']}/{s['postdose_diastolic_max']} after.",
            charts.session_bp(bp, s)))
    cadss, moaas = patient.session_scale(rec, "CADSS"), patient.session_scale(rec, "MOAAS")
    if len(cadss) or len(moaas):
        pack.figures.append(_deid_figure(
            "dissociation", "Dissociation and sedation per session",
            f"CADSS above {s['cadss_max']} is flagged as dissociation; MOAA/S at or under {s['moaas_min']} as sedation.",
            charts.session_alertness(cadss, moaas, s)))
    effects = patient.side_effects(con, cfg, patient_id).merge(done[["session_id", "session_number"]], on="session_id")
    if len(effects):
        pack.figures.append(_deid_figure("side_effects", "Side effects", "Reported side effects by session and severity.",
                                         charts.side_effect_grid(effects)))
        pack.tables.append(Table("Side effects", vocab.readable(effects[["session_number", "effect", "severity"]])))
    checked = eligibility.checklist_for(con, cfg, today, [patient_id])
    if checked:
        result = checked[0]
        verdict = vocab.VERDICTS.get(result["verdict"], result["verdict"]).lower()
        pack.summary.append(f"Eligibility for {charts.ROUTE_NAMES.get(result['route'], result['route'])}: {verdict}"
                            + ("; clinician decision on record" if result["override"] else ""))
        pack.tables.append(Table("Eligibility checklist", vocab.readable(pd.DataFrame(
            [{"group": i["group"], "item": i["label"], "item_status": i["status"]} for i in result["items"]]))))
    return pack


def _age_on(born, day) -> int | None:
    if born is None or pd.isna(born):
        return None
    born, day = pd.Timestamp(born).date(), pd.Timestamp(day).date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _trials_phrase(n: int | None) -> str:
    if n is None:
        return "antidepressant trial history unknown (none on file that can be judged)"
    return f"{n} prior failed adequate antidepressant trial{'s' if n != 1 else ''}"


# ---------------------------------------------------------------- a cohort

COHORT_KEYS = {"scale": "scale", "route": "route", "set": "analysis_set", "sex": "sex", "diagnosis": "diagnosis",
               "age_band": "age_band", "clinician": "clinician", "start": "start", "end": "end"}


def parse_cohort(text: str) -> dict:
    """'route=esketamine,set=completers,sex=F' (or 'all') → outcome filters; ValueError naming the problem."""
    filters: dict = {"route": "all", "analysis_set": "itt"}
    if text.strip().lower() in ("", "all"):
        return filters
    for part in text.split(","):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not value:
            raise ValueError(f"cohort filter {part.strip()!r} is not key=value")
        if key not in COHORT_KEYS:
            raise ValueError(f"unknown cohort filter {key!r}; use {', '.join(COHORT_KEYS)}")
        if key == "age_band":
            value = value.replace("-", "–")       # typed with a hyphen; the bands use an en dash
        if key in ("start", "end"):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"cohort filter {key}: expected a date YYYY-MM-DD, got {value!r}") from None
        filters[COHORT_KEYS[key]] = value
    from kdash.clinical import roster
    if filters["route"] != "all" and filters["route"] not in roster.ROUTE_NAMES:
        raise ValueError(f"unknown route {filters['route']!r}; use all or {', '.join(roster.ROUTE_NAMES)}")
    if filters.get("sex") not in (None, *SEX):
        raise ValueError(f"unknown sex {filters['sex']!r}; use F, M or X")
    if filters.get("diagnosis") not in (None, *eligibility.DIAGNOSES):
        raise ValueError(f"unknown diagnosis {filters['diagnosis']!r}; use {', '.join(eligibility.DIAGNOSES)}")
    outcomes.check(filters.get("scale", "MADRS"), filters["analysis_set"], filters.get("age_band"))
    return filters


def describe_filters(filters: dict) -> str:
    """The cohort in words, without calendar dates (a period is named as such, not by its dates)."""
    from kdash.present import charts
    parts = [charts.ROUTE_NAMES.get(filters.get("route"), "all routes") if filters.get("route", "all") != "all"
             else "all routes", SET_NAMES[filters.get("analysis_set", "itt")]]
    if filters.get("sex"):
        parts.append(SEX.get(filters["sex"], filters["sex"]))
    if filters.get("diagnosis"):
        parts.append(eligibility.DIAGNOSES.get(filters["diagnosis"], filters["diagnosis"]))
    if filters.get("age_band"):
        parts.append(f"age {filters['age_band']}")
    if filters.get("clinician"):
        parts.append(f"patients of {filters['clinician']}")
    if filters.get("start") or filters.get("end"):
        parts.append("first treated within the chosen period")
    return ", ".join(parts)


def cohort_pack(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> Pack:
    """Outcome and side-effect figures for a cohort (the outcome page's filters), cells under 5 hidden."""
    from kdash.present import charts
    scale = scales.SCALES[filters.setdefault("scale", cfg["clinic"]["main_scale"])]
    title = f"Cohort: {describe_filters(filters)}"
    s = outcomes.summary(con, cfg, **filters)
    if s["n_treated"] < deid.MIN_CELL or s["n_evaluable"] < deid.MIN_CELL:
        return Pack("cohort", title, [f"{scale.name}; fewer than {deid.MIN_CELL} evaluable patients."],
                    refusal=f"Fewer than {deid.MIN_CELL} evaluable patients match: too few to present de-identified.",
                    synthetic=db.is_demo(con))
    summary = [f"{scale.name}; {s['n_treated']:,} treated, {s['n_evaluable']:,} evaluable",
               _rate_phrase("Response", s["responders"], s["response_rate"], s["response_ci95"]) + "; "
               + _rate_phrase("remission", s["remitters"], s["remission_rate"], s["remission_ci95"])
               + " at the last observation"]
    pack = Pack("cohort", title, summary, synthetic=db.is_demo(con))
    set_name = SET_NAMES[filters.get("analysis_set", "itt")]
    points = outcomes.timepoints(con, cfg, **filters)
    shown = deid.hide_small_rates(points)
    pack.figures.append(_deid_figure("timepoints", "Response and remission by timepoint",
                                     f"Share of evaluable patients, 95 % Wilson intervals; {set_name}. "
                                     f"Bars resting on fewer than {deid.MIN_CELL} patients are left out.",
                                     charts.timepoint_rates(shown, scale.name, set_name)))
    pack.tables.append(Table("Outcomes by timepoint", outcome_table(points)))
    pack.summary.append(outcomes.set_caption(filters.get("analysis_set", "itt"), points, count=small_count))
    means = outcomes.mean_by_session(con, cfg, **filters)
    means = means[means["n"] >= deid.MIN_CELL]
    lines = outcomes.trajectories(con, cfg, **filters)
    pack.figures.append(_deid_figure("mean_course", f"Mean {scale.name} by session",
                                     f"Mean with 95 % interval at each session reached by at least {deid.MIN_CELL} "
                                     "patients; a fixed sample of individual courses in grey.",
                                     charts.mean_trajectory(means, lines, scale, outcomes.remission_threshold(cfg, scale.code))))
    fall = outcomes.waterfall(con, cfg, **filters)
    if len(fall):
        pack.figures.append(_deid_figure("waterfall", "Change from baseline, patient by patient",
                                         "Each bar one patient's % change at the last observation (no labels).",
                                         charts.waterfall(fall, scale.name, int(fall["n_evaluable"].iloc[0]))))
    curves = {unit: {r: c for r, c in by_route.items() if c["n"] >= deid.MIN_CELL}
              for unit, by_route in outcomes.time_to_response(con, cfg, **filters).items()}
    if curves["sessions"]:
        pack.figures.append(_deid_figure(
            "time_to_response", "Time to first response",
            "Cumulative incidence of response by route, stopping treatment without a response a competing event "
            "(dotted: the share who stopped); courses still under way count up to their last score; routes with "
            f"fewer than {deid.MIN_CELL} patients left out.", charts.response_incidence(curves["sessions"], "sessions")))
    se_filters = {k: v for k, v in filters.items() if k != "scale"}
    rates = side_effects.rates(con, cfg, **se_filters)
    overall = rates[(rates["by"] == "all") & (rates["patients"] >= deid.MIN_CELL)]
    if len(overall):
        pack.figures.append(_deid_figure("side_effects", "Side effects beside the trials",
                                         f"Share of patients with each effect at least once; effects seen in fewer "
                                         f"than {deid.MIN_CELL} patients left out.",
                                         charts.effect_frequencies(overall, side_effects.TRIAL_RATES)))
    all_effects = rates[rates["by"] == "all"].sort_values("per_patient", ascending=False)
    pack.tables.append(Table("Side effects (patients with the effect at least once)", vocab.readable(pd.DataFrame({
        "effect": all_effects["effect"],
        "patients_ci": [rate_cell(r.patients, r.n_patients, r.per_patient, r.per_patient_low, r.per_patient_high)
                        for r in all_effects.itertuples()]}))))
    return pack


def outcome_table(points: pd.DataFrame) -> pd.DataFrame:
    """Response and remission per timepoint as 'count of n · % (95 % CI)', small counts as '<5'."""
    return vocab.readable(pd.DataFrame({
        "timepoint": points["label"], "n": [small_count(n) for n in points["n"]],
        "under_way": [small_count(n) for n in points["under_way"]],
        "n_evaluable": [small_count(n) for n in points["n_evaluable"]],
        "response_ci": [rate_cell(r.responders, r.n_evaluable, r.response_rate, r.response_low, r.response_high)
                        for r in points.itertuples()],
        "remission_ci": [rate_cell(r.remitters, r.n_evaluable, r.remission_rate, r.remission_low, r.remission_high)
                         for r in points.itertuples()]}))


def small_count(n) -> str:
    """A patient count as shown de-identified: 1 to 4 as '<5'."""
    if n is None or pd.isna(n):
        return "—"
    return f"<{deid.MIN_CELL}" if 0 < int(n) < deid.MIN_CELL else f"{int(n):,}"


def pct(x) -> str:
    return f"{100 * x:.1f} %"


def rate_cell(count, n, rate, low, high) -> str:
    """'105 of 281 · 37.4 % (31.9–43.2 %)'; a count of 1 to 4 patients as '<5' and its rate hidden."""
    if count is None or pd.isna(count) or n is None or pd.isna(n) or not n:
        return "—"
    if 0 < count < deid.MIN_CELL:
        return f"<{deid.MIN_CELL} of {int(n):,}"
    interval = "" if low is None or pd.isna(low) else f" ({100 * low:.1f}–{100 * high:.1f} %)"
    return f"{int(count):,} of {int(n):,} · {pct(rate)}{interval}"


def _rate_phrase(what: str, count: int | None, rate: float | None, ci: list | None) -> str:
    if count is None:   # remission on a scale without a threshold (BDI-II)
        return f"{what} not defined"
    if 0 < count < deid.MIN_CELL or rate is None:
        return f"{what}: fewer than {deid.MIN_CELL} patients"
    ci_text = f" (95 % CI {ci[0]:.0%}–{ci[1]:.0%})" if ci else ""
    return f"{what} {rate:.0%}{ci_text}"
