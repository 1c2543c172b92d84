"""The rulebook of clinical reference §4: every safety rule's id, severity, title, threshold text and source, and the
parameters its SQL takes from the clinic's settings. The ground floor: the store's flag log evaluates the rules
with these parameters, the clinical floor evaluates them per patient (kdash/clinical/rules.py), and the worklist,
the pages and the CLI name them; none of those needs the others to know what a rule is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kdash import scales


# A course is under way while it had a session in this many days or has one booked (the roster's phase, the expected
# course's prompts, the data-quality checks): one definition everywhere.
UNDER_WAY_DAYS = 21

# Active: a patient the clinic is caring for now (sql/patient_phases.sql): referred, waiting for a first session, in
# induction or in maintenance; not finished, stopped or deceased. The home page's count, the roster's default filter
# and `roster --phase active` are this one set.
ACTIVE_PHASES = ("referred", "waiting", "induction", "maintenance")
ACTIVE_MEANS = ("Referred, waiting for a first session, in induction or in maintenance (a session in the last "
                f"{UNDER_WAY_DAYS} days or one booked); not finished, stopped or deceased.")

SEVERITY_ORDER = {"urgent": 0, "high": 1, "caution": 2, "review": 3}
LABEL = "SPRAVATO (esketamine) US prescribing information and REMS"
CONSENSUS = "Sanacora 2017 (APA consensus); Swainson 2021 (CANMAT)"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    threshold: str       # how the threshold reads, filled from settings
    source: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("suicidal_thoughts", "urgent", "Suicidal thoughts",
         "PHQ-9 item 9 ≥ {phq9_item9_min}, MADRS item 10 ≥ {madrs_item10_min}, HAM-D item 3 ≥ {hamd_item3_min} "
         "or C-SSRS ≥ {cssrs_level_min}, whatever the total", "clinical reference §4; Kroenke PHQ-9; Posner C-SSRS"),
    Rule("emergent_hypertension", "high", "Blood pressure high after dose",
         "post-dose SBP > {postdose_systolic_max} or DBP > {postdose_diastolic_max} mmHg",
         "Riva-Posse 2018; Szarmach 2019; " + LABEL),
    Rule("worsening", "high", "Worsening", "score above baseline at two consecutive assessments",
         "clinical reference §4"),
    Rule("predose_bp", "caution", "Blood pressure high before dose",
         "pre-dose BP > {predose_systolic_max}/{predose_diastolic_max} mmHg: consider delaying", LABEL),
    Rule("dissociation", "caution", "Dissociation rising",
         "CADSS > {cadss_max} and above each of the {dissociation_rise_sessions} sessions before (it usually falls "
         "over sessions; high values early on are shown on the session chart)",
         "clinical reference §4; Bremner 1998; TRANSFORM-2 post hoc"),
    Rule("sedation", "caution", "Sedation", "MOAA/S ≤ {moaas_min}; should be back to 5 by about 90 min",
         "Chernik 1990; " + LABEL),
    Rule("monitoring", "caution", "Esketamine monitoring incomplete",
         "BP before dosing and at ~40 min, and ≥ {esketamine_observation_minutes} min observation", LABEL),
    Rule("iv_nonresponse", "review", "No response to IV ketamine",
         "no response (≥ 50 % fall) on the score after infusion {iv_nonresponse_sessions}; review the course when "
         "the score after infusion {iv_review_sessions} is not a response either", CONSENSUS),
    Rule("esketamine_nonresponse", "review", "No response to esketamine induction",
         "no response (≥ 50 % fall) on the score after the last induction session, judged then and not before",
         LABEL + "; TRANSFORM-2"),
    Rule("dose_creep", "review", "Dose creep", "maintenance dose ≥ {dose_creep_mg_per_kg} mg/kg above the first "
         "maintenance dose", "clinical reference §4"),
    Rule("long_term_use", "review", "Long-term use",
         "≥ {long_term_days} days of treatment: ask about urinary symptoms, cognition and misuse",
         "clinical reference §4; " + CONSENSUS),
    Rule("suicide_item_unknown", "review", "Suicide item not recorded",
         "a PHQ-9, MADRS or HAM-D score recorded as a total without its suicide item (PHQ-9 item 9, MADRS item 10, "
         "HAM-D item 3); urgent when the total is in the scale's severe band", "clinical reference §4; Kroenke PHQ-9"),
    Rule("iv_unscored", "review", "IV response not measured",
         "an IV course at infusion {iv_review_sessions} with no score of the clinic's main scale since infusion "
         "{iv_nonresponse_sessions}: response cannot be judged", CONSENSUS),
    Rule("dissociation_unsettled", "caution", "Dissociation not settled by discharge",
         "the last CADSS of a session rated two or more times is still > {cadss_max} (it should settle by discharge)",
         "clinical reference §4; Bremner 1998"),
    Rule("sedation_unresolved", "caution", "Sedation not resolved",
         "MOAA/S below 5 at the session's last rating from minute {sedation_recovery_minutes} on (it should be back "
         "to 5 by about 90 min)", "Chernik 1990; " + LABEL),
    Rule("rems_form", "review", "REMS monitoring form not sent",
         "an esketamine session without a REMS patient monitoring form sent; due within {rems_form_days} days",
         LABEL),
)}
# Rules whose evidence can be urgent whatever the clinic's severity for the rule (a severe total without its
# suicide item): their urgent evidence keeps that severity.
ESCALATES = {"suicide_item_unknown"}

SUICIDE_ITEMS = {"PHQ9": ("phq9_item9_min", 9, "PHQ-9 item 9"), "MADRS": ("madrs_item10_min", 10, "MADRS item 10"),
                 "HAMD17": ("hamd_item3_min", 3, "HAM-D item 3")}


def severity(cfg: dict, rule_id: str) -> str:
    """The clinic's severity for a rule ([flags.severity]; the rule's own by default)."""
    return cfg.get("flags", {}).get("severity", {}).get(rule_id, RULES[rule_id].severity)


def threshold_text(rule_id: str, cfg: dict) -> str:
    return RULES[rule_id].threshold.format(**cfg["safety"])


def flag_params(cfg: dict, since: dt.date, today: dt.date, patient_id: str | None = None) -> dict:
    s = cfg["safety"]
    return {"since": since, "today": today, "patient_id": patient_id, "flag_patients": None,
            "phq9": s["phq9_item9_min"], "madrs": s["madrs_item10_min"], "hamd": s["hamd_item3_min"],
            "cssrs": s["cssrs_level_min"], "pre_sys": s["predose_systolic_max"], "pre_dia": s["predose_diastolic_max"],
            "post_sys": s["postdose_systolic_max"], "post_dia": s["postdose_diastolic_max"],
            "cadss": s["cadss_max"], "moaas": s["moaas_min"], "observe": s["esketamine_observation_minutes"],
            "iv_after": s["iv_nonresponse_sessions"], "iv_review": s["iv_review_sessions"],
            "esk_after": cfg["induction"]["esketamine"], "window": cfg["outcomes"]["after_session_window_days"],
            "response": cfg["outcomes"]["response_pct"] / 100, "lookback": cfg["outcomes"]["baseline_lookback_days"],
            "creep": s["dose_creep_mg_per_kg"], "long_term": s["long_term_days"], "main_scale": cfg["clinic"]["main_scale"],
            "main_scale_name": scales.SCALES[cfg["clinic"]["main_scale"]].name,
            "rise": s["dissociation_rise_sessions"], "recovery": s["sedation_recovery_minutes"],
            "rems_days": s["rems_form_days"], "with_clears": False,
            "severe_phq9": scales.severe_from("PHQ9"), "severe_madrs": scales.severe_from("MADRS"),
            "severe_hamd": scales.severe_from("HAMD17"),
            **{f"sev_{r}": severity(cfg, r) for r in RULES}}
