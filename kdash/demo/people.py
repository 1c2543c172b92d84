"""Who the demo clinic's patients are: diagnoses, screening answers (§2 contraindications, warnings, work-up) and
previous antidepressant trials, by kind of patient (eligible, a warning, too few trials, contraindicated, missing)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

DIAGNOSES = ["mdd", "bipolar_depression", "pdd", "other"]
DIAGNOSIS_P = [0.8, 0.1, 0.07, 0.03]


ABSOLUTE = ["aneurysmal_vascular_disease", "arteriovenous_malformation", "intracerebral_hemorrhage",
            "ketamine_hypersensitivity"]
WARNINGS = ["pregnancy", "psychosis_current", "psychotic_disorder_history", "substance_use_disorder_3m",
            "ketamine_or_pcp_misuse", "unstable_cardiovascular", "sleep_apnea_untreated", "seizures_unexplained",
            "severe_head_injury",
            "raised_intracranial_pressure", "hepatic_impairment_moderate", "hepatic_impairment_severe", "cystitis",
            "cognitive_impairment"]
WORKUP = ["ecg_done", "liver_kidney_tests_done", "stop_bang_done", "pregnancy_test_done", "consent_signed",
          "rems_enrolled"]
SCREENING_ITEMS = ABSOLUTE + WARNINGS + WORKUP
STATUSES = ["absent", "present", "unknown"]

# Eligibility profiles, so the checklist meets every kind of patient.
ELIGIBLE, WARNING, FEW_TRIALS, CONTRAINDICATED, MISSING = range(5)
KIND_P = [0.62, 0.20, 0.09, 0.03, 0.06]
TREATED_P = np.array([0.97, 0.85, 0.10, 0.0, 0.45])

# Trial kinds in a history.
ADEQUATE, INTOLERANT, UNDERDOSED, SHORT, PAST_EPISODE, ONGOING = range(6)


def _group_suffix(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the sum of `values` over the later rows of the same group."""
    total = np.bincount(group, weights=values)[group]
    inclusive = np.cumsum(values)
    before_group = np.concatenate([[0], inclusive])[np.searchsorted(group, group, side="left")]
    return total - (inclusive - before_group)


def _trials(rng, kind, referral, cfg) -> pa.Table:
    """Antidepressant histories: adequate failures, plus intolerance, under-dosing, short or past trials."""
    n = len(kind)
    min_dose = cfg["eligibility"]["min_dose_mg_per_day"]
    drugs = np.array(list(min_dose))
    doses = np.array([min_dose[d] for d in drugs], dtype=float)
    n_adequate = np.select([kind == FEW_TRIALS, kind == CONTRAINDICATED], [rng.choice([0, 1], n, p=[0.2, 0.8]),
                                                                            rng.integers(2, 4, n)],
                           rng.integers(2, 5, n))
    n_odd = np.where(kind == FEW_TRIALS, rng.integers(1, 3, n), rng.choice([0, 1], n, p=[0.7, 0.3]))
    ongoing = rng.random(n) < 0.5
    p = np.concatenate([np.repeat(np.arange(n), n_adequate), np.repeat(np.arange(n), n_odd), np.nonzero(ongoing)[0]])
    odd_kind = np.where(np.repeat(kind == FEW_TRIALS, n_odd),
                        rng.choice([INTOLERANT, UNDERDOSED, SHORT, PAST_EPISODE], n_odd.sum()),
                        rng.choice([INTOLERANT, PAST_EPISODE], n_odd.sum()))
    tk = np.concatenate([np.full(n_adequate.sum(), ADEQUATE), odd_kind, np.full(ongoing.sum(), ONGOING)])
    order = np.lexsort((np.where(tk == ONGOING, 2, np.where(tk == PAST_EPISODE, -1, rng.random(len(tk)))), p))
    p, tk = p[order], tk[order]
    m = len(p)
    drug = rng.integers(0, len(drugs), m)
    weeks = np.select([tk == ADEQUATE, tk == INTOLERANT, tk == UNDERDOSED, tk == SHORT, tk == PAST_EPISODE],
                      [rng.integers(5, 17, m), rng.integers(1, 3, m), rng.integers(6, 13, m), np.full(m, 3),
                       rng.integers(12, 40, m)], rng.integers(3, 20, m))
    factor = np.select([tk == ADEQUATE, tk == UNDERDOSED, tk == PAST_EPISODE], [rng.choice([1, 1.5, 2, 3], m),
                                                                               np.full(m, 0.5), np.full(m, 2.0)], 1.5)
    gap = np.where(tk == ONGOING, 0, rng.integers(10, 45, m)) + np.where(tk == PAST_EPISODE, 700, 0)
    duration = weeks * 7
    end = referral[p] - _group_suffix((duration + gap).astype(float), p).astype(np.int64) - gap
    start = end - duration
    outcome = np.select([tk == ADEQUATE, tk == INTOLERANT, tk == PAST_EPISODE, tk == ONGOING],
                        [np.where(rng.random(m) < 0.7, 0, 1), np.full(m, 3), np.full(m, 2), np.full(m, 4)], 0)
    return pa.table({
        "p": p, "drug": pa.array(drugs[drug]), "dose_mg_per_day": doses[drug] * factor,
        "start_day": start, "end_day": pa.array(end, mask=tk == ONGOING),
        "outcome": pa.array(np.array(["no_response", "partial_response", "response", "intolerance", "ongoing"])[outcome]),
        "current_episode": tk != PAST_EPISODE})


def _screening(rng, kind, sex, age, route, consulted, consult) -> pa.Table:
    """Screening answers at consultation: contraindications, warnings and work-up per kind."""
    cp = np.nonzero(consulted)[0]
    m = len(cp)
    status = np.zeros((m, len(SCREENING_ITEMS)), dtype=np.int64)        # 0 absent, 1 present, 2 unknown
    workup = [SCREENING_ITEMS.index(w) for w in WORKUP]
    status[:, workup] = 1
    could_be_pregnant = (sex[cp] == 0) & (age[cp] < 50)
    status[~could_be_pregnant, SCREENING_ITEMS.index("pregnancy_test_done")] = 0
    status[route[cp] != 1, SCREENING_ITEMS.index("rems_enrolled")] = 0
    k = kind[cp]
    rows = np.nonzero(k == CONTRAINDICATED)[0]
    status[rows, rng.integers(0, len(ABSOLUTE), len(rows))] = 1
    rows = np.nonzero((k == WARNING) & (rng.random(m) < 0.65))[0]
    common = ["substance_use_disorder_3m", "sleep_apnea_untreated", "unstable_cardiovascular",
              "psychotic_disorder_history", "cystitis", "hepatic_impairment_moderate", "psychosis_current",
              "ketamine_or_pcp_misuse", "seizures_unexplained", "cognitive_impairment"]
    pick = rng.choice([SCREENING_ITEMS.index(c) for c in common], len(rows),
                      p=[0.2, 0.2, 0.12, 0.12, 0.08, 0.08, 0.05, 0.05, 0.05, 0.05])
    status[rows, pick] = 1
    rows = np.nonzero(k == MISSING)[0]
    for _ in range(2):
        status[rows, rng.integers(0, len(ABSOLUTE) + len(WARNINGS), len(rows))] = 2
    missing_workup = rows[rng.random(len(rows)) < 0.6]
    status[missing_workup, rng.choice(workup[:3] + [workup[4]], len(missing_workup))] = 0
    n_items = len(SCREENING_ITEMS)
    return pa.table({
        "p": np.repeat(cp, n_items), "item": pa.array(np.tile(np.array(SCREENING_ITEMS), m)),
        "status": pa.array(np.array(STATUSES)[status.reshape(-1)]), "day": np.repeat(consult[cp], n_items)})
