"""The demo clinic's sessions: induction schedules per route (clinical reference §3), chairs and chair time (§7),
vitals during a session, side effects at the TRANSFORM-1 per-patient rates (§6)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

ROUTES = ["iv_ketamine", "esketamine", "sc_ketamine"]
ROUTE_P = [0.58, 0.35, 0.07]
INDUCTION_SESSIONS = np.array([6, 8, 8])       # IV: 6 over 2-3 weeks; esketamine: weeks 1-4 twice weekly; SC (KADS)
DISCHARGE_MINUTE = np.array([70, 120, 55])
CHAIR_MINUTES = [(75, 10, 50, 120), (135, 12, 100, 200), (60, 8, 40, 90)]   # mean, sd, min, max per route


# Per-patient side-effect rates: TRANSFORM-1 (clinical reference §6).
SIDE_EFFECTS = {
    "dissociation": 0.268, "nausea": 0.294, "dizziness": 0.251, "vertigo": 0.208, "headache": 0.203,
    "somnolence": 0.195, "dysgeusia": 0.160, "hypoaesthesia": 0.133, "paraesthesia": 0.130,
    "vomiting": 0.091, "anxiety": 0.082, "blood_pressure_increased": 0.082, "blurred_vision": 0.074,
    "sedation": 0.061,
}
SEVERITIES = ["mild", "moderate", "severe"]


SESSION_STATUSES = ["completed", "scheduled", "cancelled", "no_show"]


def weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7   # day 0 (1970-01-01) was a Thursday; Monday = 0


# Gaps between induction sessions by the weekday of the first one (Monday = 0), repeated: IV three times
# a week (Mon/Wed/Fri) or twice (Tue/Thu); esketamine and SC twice a week on pairs chosen so that every
# weekday carries the same load.
IV_GAPS = {0: (2, 2, 3), 1: (2, 5), 2: (2, 3, 2), 3: (5, 2), 4: (3, 2, 2)}
TWICE_WEEKLY_GAPS = {0: (3, 4), 1: (3, 4), 2: (5, 2), 3: (5, 2), 4: (5, 2)}


def _induction_offsets(is_iv: np.ndarray, start_wd: np.ndarray, width: int) -> np.ndarray:
    """Day offsets of each patient's sessions 1, 2, … from the first (see IV_GAPS, TWICE_WEEKLY_GAPS)."""
    offsets = np.zeros((len(is_iv), width), dtype=np.int64)
    for iv, table in ((True, IV_GAPS), (False, TWICE_WEEKLY_GAPS)):
        for wd, gaps in table.items():
            rows = (start_wd == wd) & (is_iv == iv)
            steps = [gaps[i % len(gaps)] for i in range(width - 1)]
            offsets[rows] = np.concatenate([[0], np.cumsum(steps)])
    return offsets


def seat(start_min: np.ndarray, length: np.ndarray, day: np.ndarray, seated: np.ndarray, n_chairs: int, rng):
    """Give each seated booking the chair that frees first that day, waiting for it when all are taken
    (so occupancy never passes 100 %); other bookings get the chair they were booked in."""
    import heapq
    chair = rng.integers(1, n_chairs + 1, len(start_min))
    start = start_min.copy()
    idx = np.nonzero(seated)[0]
    idx = idx[np.lexsort((start_min[idx], day[idx]))]
    current, free = None, []
    for i in idx.tolist():
        if day[i] != current:
            current, free = day[i], [(0, c) for c in range(1, n_chairs + 1)]
        free_at, c = heapq.heappop(free)
        if free_at > start[i]:
            start[i] = free_at + 5                                    # wait for the chair, 5 min to turn it over
        chair[i] = c
        heapq.heappush(free, (int(start[i] + length[i]), c))
    return chair, start


def _sessions(rng, course, today, route, planned, consult, clinician_idx, n_clinicians, weight, opening,
              closing):
    """Bookings: the course's sessions plus no-shows and cancellations that were rebooked."""
    p, day, k = course["p"], course["day"], course["k"]
    m = len(p)
    r = route[p]
    past = day < today
    u = rng.random(m)
    failed = past & (u < 0.118)
    failed_status = np.where(u < 0.053, 3, 2)[failed]                       # no-show ≈ 5 % of bookings
    f_day = day[failed] - rng.integers(2, 5, failed.sum())
    f_day -= np.maximum(weekday(f_day) - 4, 0)                               # weekend → Friday
    f_day = np.maximum(f_day, consult[p[failed]] + 1)                        # never before the consultation
    mean, sd, lo, hi = (np.array(v)[r] for v in zip(*CHAIR_MINUTES))
    minutes = np.clip(rng.normal(mean, sd), lo, hi).round().astype(np.int64)
    n_slots = ((closing - opening) * 60 - minutes) // 30
    slot = opening * 60 + 30 * np.floor(rng.random(m) * n_slots).astype(np.int64)
    # IV mg/kg per patient, drifting up in maintenance; esketamine 56 mg then 56 or 84; SC stepping up.
    mg_per_kg = np.where(rng.random(len(route)) < 0.7, 0.5, 0.75)[p]
    mg_per_kg = np.minimum(mg_per_kg + 0.05 * (np.maximum(k - planned[p], 0) // 4), 1.0)
    sc_step = np.array([0.5, 0.5, 0.6, 0.6, 0.75, 0.75, 0.9, 0.9])[np.minimum(k - 1, 7)]
    esk_mg = np.where(k == 1, 56, np.where(rng.random(len(route)) < 0.6, 84, 56)[p])
    kg = (weight[p] + rng.normal(0, 0.6, m)).round(1)
    dose = np.select([r == 0, r == 1], [(mg_per_kg * kg).round(1), esk_mg], (sc_step * kg).round(1))

    # all bookings, ordered by patient then time, numbered S0000001…
    bp = np.concatenate([p, p[failed]])
    bday = np.concatenate([day, f_day])
    bslot = np.concatenate([slot, slot[failed]])
    status = np.concatenate([np.where(past, 0, 1), failed_status])
    order = np.lexsort((bslot, bday, bp))
    s = np.empty(len(order), dtype=np.int64)
    s[order] = np.arange(1, len(order) + 1)
    is_real = np.arange(len(order)) < m
    delay = rng.integers(0, 20, len(order))
    start_min = bday * 1440 + bslot + delay
    length = np.concatenate([minutes, minutes[failed]])
    seated = status <= 1                                                     # completed or booked ahead
    recent = seated & (bday >= today - 91) & (bday < today)
    open_hours = (closing - opening) * 5
    n_chairs = int(max(2, np.ceil(length[recent].sum() / 60 / 13 / open_hours / 0.72)))
    chair_no, start_min = seat(start_min, length, bday, seated, n_chairs, rng)
    end_min = start_min + length
    real_done = (status == 0)
    cancelled_at = bday * 1440 + bslot - rng.integers(120, 6 * 1440, len(order))
    clin = np.where(rng.random(len(order)) < 0.8, clinician_idx[bp], rng.integers(0, n_clinicians, len(order)))
    phase = np.concatenate([course["maintenance"], course["maintenance"][failed]])
    # the esketamine REMS monitoring form: sent within a few days; the last days' not yet, a few never (reminders)
    extra = np.random.default_rng([today, len(order)])     # its own stream: the rest of the demo is unchanged
    rems_day = bday + extra.choice([0, 1, 2, 3, 5], len(order), p=[0.45, 0.3, 0.12, 0.08, 0.05])
    unsent = (rems_day >= today) | (extra.random(len(order)) < 0.01) | \
        ((bday >= today - 3) & (extra.random(len(order)) < 0.5))
    rems_mask = ~((status == 0) & (route[bp] == 1)) | unsent
    table = pa.table({
        "s": s, "p": bp, "scheduled_minute": bday * 1440 + bslot,
        "status": pa.array(np.array(["completed", "scheduled", "cancelled", "no_show"])[status]),
        "route": pa.array(np.array(ROUTES)[route[bp]]),
        "phase": pa.array(np.where(phase, "maintenance", "induction")),
        "dose_mg": pa.array(np.concatenate([dose, dose[failed]]), mask=~is_real | (status == 1)),
        "weight_kg": pa.array(np.concatenate([kg, kg[failed]]), mask=~is_real),
        "clinician_no": clin,
        "started_minute": pa.array(start_min, mask=~real_done),
        "ended_minute": pa.array(end_min, mask=~real_done),
        "cancelled_minute": pa.array(cancelled_at, mask=status != 2), "chair_no": chair_no,
        "rems_day": pa.array(rems_day, mask=rems_mask)}).take(pa.array(order))
    done_idx = np.nonzero(past)[0]
    done = {"p": p[done_idx], "day": day[done_idx], "k": k[done_idx], "s": s[done_idx],
            "mgkg": np.where(r == 1, dose / kg, np.where(r == 0, mg_per_kg, sc_step))[done_idx],
            "start_min": start_min[done_idx], "chair_minutes": minutes[done_idx], "n_chairs": n_chairs,
            "maintenance": course["maintenance"][done_idx]}
    return table, done


def _session_vitals(rng, done, age, base_sbp, base_dbp, route) -> dict:
    """BP before dosing, at 40 min and at discharge: the published rise, larger with age and dose."""
    p, m = done["p"], len(done["p"])
    r = route[p]
    pre_s = base_sbp[p] + rng.normal(0, 6, m)
    pre_d = base_dbp[p] + rng.normal(0, 4, m)
    rise = 4 + 0.25 * np.maximum(age[p] - 50, 0) + 12 * (done["mgkg"].clip(0, 1.2) - 0.5) * (r != 1) \
        + 3 * (r == 1) + rng.normal(0, 6, m)
    spike = rng.random(m) < 0.012
    rise_s = rise + spike * rng.uniform(45, 65, m)
    rise_d = rise / 2 + spike * rng.uniform(28, 38, m) + rng.normal(0, 3, m)
    minute = np.stack([np.full(m, -5), np.full(m, 40), DISCHARGE_MINUTE[r]], axis=1)
    systolic = np.stack([pre_s, pre_s + rise_s, pre_s + 0.3 * rise + rng.normal(0, 4, m)], axis=1)
    diastolic = np.stack([pre_d, pre_d + rise_d, pre_d + 0.2 * rise + rng.normal(0, 3, m)], axis=1)
    diastolic = np.minimum(diastolic, systolic - 20)      # a pulse pressure of at least 20 mmHg
    return {"p": np.repeat(p, 3), "s": np.repeat(done["s"], 3), "minute": minute.reshape(-1),
            "at_minute": (np.repeat(done["start_min"], 3) + minute.reshape(-1)),
            "systolic": systolic.reshape(-1).round().astype(np.int64),
            "diastolic": diastolic.reshape(-1).round().astype(np.int64),
            "heart_rate": np.round(rng.normal(76, 9, 3 * m) + np.tile([0, 6, 2], m)).astype(np.int64),
            "spo2": np.round(rng.uniform(95, 100, 3 * m)).astype(np.int64)}


def _side_effects(rng, done) -> pa.Table:
    """Each susceptible patient has the effect at the first session, then less often as sessions go on."""
    p, k = done["p"], done["k"]
    names = list(SIDE_EFFECTS)
    rate = np.array(list(SIDE_EFFECTS.values()))
    n = int(p.max()) + 1 if len(p) else 0
    susceptible = rng.random((n, len(names))) < rate
    later = rng.random((len(p), len(names))) < (0.45 * np.exp(-(k - 1) / 4))[:, None]
    occurs = susceptible[p] & ((k == 1)[:, None] | later)
    rows, effect = np.nonzero(occurs)
    return pa.table({"s": done["s"][rows], "effect": pa.array(np.array(names)[effect]),
                     "severity": pa.array(np.array(SEVERITIES)[rng.choice(3, len(rows), p=[0.7, 0.25, 0.05])])})
