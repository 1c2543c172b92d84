"""The synthetic demo clinic, vectorised so that 100,000 patients build in well under a minute.

Calibrated to ../shared/clinical-reference.md: routes and doses (§3), dropout and response near the
real-world figures (§5), side effects at the TRANSFORM-1 per-patient rates (§6), no-shows near 5 %
and chair time per route (§7). Deterministic for (patients, seed, as_of).

Arrays carry integers (patient index `p`, session number `s`, day and minute numbers since 1970);
the SQL in `_insert` turns them into IDs, dates and timestamps.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from faker import Faker

from kdash import settings
from kdash.access import users
from kdash.store import db, derived

ROUTES = ["iv_ketamine", "esketamine", "sc_ketamine"]
ROUTE_P = [0.58, 0.35, 0.07]
INDUCTION_SESSIONS = np.array([6, 8, 8])       # IV: 6 over 2-3 weeks; esketamine: weeks 1-4 twice weekly; SC (KADS)
DISCHARGE_MINUTE = np.array([70, 120, 55])
CHAIR_MINUTES = [(75, 10, 50, 120), (135, 12, 100, 200), (60, 8, 40, 90)]   # mean, sd, min, max per route
DIAGNOSES = ["mdd", "bipolar_depression", "pdd", "other"]
DIAGNOSIS_P = [0.8, 0.1, 0.07, 0.03]

# Per-patient side-effect rates: TRANSFORM-1 (clinical-reference §6).
SIDE_EFFECTS = {
    "dissociation": 0.268, "nausea": 0.294, "dizziness": 0.251, "vertigo": 0.208, "headache": 0.203,
    "somnolence": 0.195, "dysgeusia": 0.160, "hypoaesthesia": 0.133, "paraesthesia": 0.130,
    "vomiting": 0.091, "anxiety": 0.082, "blood_pressure_increased": 0.082, "blurred_vision": 0.074,
    "sedation": 0.061,
}
SEVERITIES = ["mild", "moderate", "severe"]

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
SESSION_STATUSES = ["completed", "scheduled", "cancelled", "no_show"]
SCALE_CODES = ["MADRS", "PHQ9", "QIDS_SR16", "CADSS", "MOAAS", "CSSRS"]


def weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7   # day 0 (1970-01-01) was a Thursday; Monday = 0


def allocate_items(rng, totals, n_items, item_max, weights=None) -> np.ndarray:
    """Item scores (rows × n_items) in 0..item_max summing to each total (capped at what fits).

    Each row shares out its total in proportion to random weights; a zero weight keeps an item at 0.
    """
    n = len(totals)
    if weights is None:
        weights = rng.gamma(2.0, size=(n, n_items))
    allowed = weights > 0
    totals = np.minimum(totals, allowed.sum(axis=1) * item_max).astype(np.int64)
    norm = weights.sum(axis=1, keepdims=True)
    share = weights / np.where(norm > 0, norm, 1)
    items = np.minimum(np.floor(share * totals[:, None]), item_max).astype(np.int64)
    deficit = totals - items.sum(axis=1)
    active = np.nonzero(deficit > 0)[0]
    while active.size:
        sub = items[active]
        room = (sub < item_max) & allowed[active]
        pick = np.where(room, rng.random(sub.shape), -1.0).argmax(axis=1)
        sub[np.arange(active.size), pick] += 1
        items[active] = sub
        deficit[active] -= 1
        active = active[deficit[active] > 0]
    return items


def qids_items(rng, totals) -> np.ndarray:
    """16 QIDS-SR16 items whose 9-domain score equals the total."""
    domains = allocate_items(rng, totals, 9, 3)
    items = np.zeros((len(totals), 16), dtype=np.int64)
    for d, group in enumerate(((1, 2, 3, 4), (5,), (6, 7, 8, 9), (10,), (11,), (12,), (13,), (14,), (15, 16))):
        score = domains[:, d]
        cols = np.array(group) - 1
        if len(cols) == 1:
            items[:, cols[0]] = score
            continue
        carrier = rng.integers(0, len(cols), len(totals))
        others = np.floor(rng.random((len(totals), len(cols))) * (score[:, None] + 1)).astype(np.int64)
        others[np.arange(len(totals)), carrier] = score
        items[:, cols] = others
    return items


def _list(items: np.ndarray) -> pa.Array:
    n, k = items.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(items.reshape(-1).astype(np.uint8)))


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


# How long a demo clinic takes to acknowledge a flag, by severity: lognormal hours (median, spread), and the share
# it ever acknowledges (a few flags stay open: the worklist and its overdue marker have something to show).
ACK_DELAY = {"urgent": (3.0, 0.8, 0.98), "high": (10.0, 0.8, 0.98), "caution": (30.0, 0.9, 0.97),
             "review": (72.0, 0.9, 0.95)}
ACK_ACTIONS = {"urgent": [0, 1, 3], "high": [0, 2, 3, 4], "caution": [4, 2], "review": [4, 0]}


def acknowledge_history(cur: duckdb.DuckDBPyConnection, cfg: dict, seed: int, now: dt.datetime) -> int:
    """Acknowledgements a working clinic would have made for the demo's flag evidence up to `now`: each piece of
    evidence acknowledged after a delay by severity, so recent flags are still open and a few old ones were missed."""
    ev = cur.execute("SELECT patient_id, rule, severity, day, evidence_at FROM flag_log WHERE severity <> 'clear' "
                     "ORDER BY patient_id, rule, day").df()
    if ev.empty:
        return 0
    rng = np.random.default_rng(seed + 17)
    sev = ev["severity"].to_numpy()
    median, spread, share = (np.array([ACK_DELAY.get(x, ACK_DELAY["review"])[i] for x in sev]) for i in range(3))
    hours = np.exp(np.log(median) + spread * rng.standard_normal(len(ev)))
    at = pd.to_datetime(ev["evidence_at"]) + pd.to_timedelta(hours, unit="h")
    keep = (rng.random(len(ev)) < share) & (at < pd.Timestamp(now)).to_numpy()
    actions = cfg["flags"]["actions"]
    choice = [actions[min(rng.choice(ACK_ACTIONS.get(x, [4])), len(actions) - 1)] for x in sev]
    acks = pd.DataFrame({"patient_id": ev["patient_id"], "rule": ev["rule"], "through_day": ev["day"],
                         "action": choice, "note": None, "acknowledged_by": "clinician",
                         "acknowledged_at": at})[keep]
    cur.register("demo_acks", acks)
    cur.execute("INSERT INTO flag_acks (patient_id, rule, through_day, action, note, acknowledged_by, acknowledged_at) "
                "SELECT patient_id, rule, through_day, action, note::VARCHAR, acknowledged_by, acknowledged_at "
                "FROM demo_acks ORDER BY acknowledged_at")
    cur.unregister("demo_acks")
    return int(keep.sum())


DECIDED_TREATED = 0.97        # share of treated patients whose eligibility decision the demo clinic recorded
DECIDED_WAITING = 0.6         # … and of those consulted at least two weeks ago and not treated


def decision_history(con: duckdb.DuckDBPyConnection, cur: duckdb.DuckDBPyConnection, cfg: dict, seed: int,
                     as_of: dt.date) -> int:
    """Eligibility decisions a working clinic records (clinical-reference §2): before the first treatment, the
    patient's clinician signs off the computed verdict, or overrides it with a written reason; most consulted
    patients not treated are decided too. A few treated patients are left without one, so the review prompt
    "treated without an eligibility decision" has something to show."""
    from kdash.clinical import eligibility
    facts = eligibility.facts(con)
    if not facts:
        return 0
    clinicians = dict(con.execute("SELECT patient_id, clinician FROM patients").fetchall())
    consulted = dict(con.execute("SELECT patient_id, consultation_date FROM patients "
                                 "WHERE consultation_date IS NOT NULL").fetchall())
    rng = np.random.default_rng([seed, 29])
    rows = []
    for f in facts.values():
        treated = f.first_day is not None
        seen = consulted.get(f.patient_id)
        if treated:
            if rng.random() >= DECIDED_TREATED:
                continue
            day = max(f.first_day - dt.timedelta(days=1), seen or f.first_day)
        elif seen is not None and (as_of - seen).days >= 14 and rng.random() < DECIDED_WAITING:
            day = seen + dt.timedelta(days=7)
        else:
            continue
        result = eligibility.evaluate(f, eligibility._route(None, f), cfg, as_of)
        open_items = [i for i in result["items"] if i["status"] != "met"]
        if result["verdict"] == "eligible" or not treated:
            kind, verdict, reason = "sign_off", result["verdict"], None
        else:
            first = open_items[0]
            kind, verdict = "override", "eligible"
            reason = (f"{first['label']}: {first['detail']}. Reviewed with the patient and the referring psychiatrist; "
                      "treatment judged appropriate with the monitoring in the protocol.")
        rows.append({"patient_id": f.patient_id, "route": result["route"], "kind": kind, "verdict": verdict,
                     "reason": reason, "decided_by": clinicians.get(f.patient_id) or "clinician",
                     "decided_at": dt.datetime.combine(day, dt.time(17, 0))})
    if rows:
        cur.register("demo_decisions", pd.DataFrame(rows))
        cur.execute("INSERT INTO eligibility_decisions SELECT patient_id, route, kind, verdict, reason::VARCHAR, "
                    "decided_by, decided_at FROM demo_decisions ORDER BY decided_at, patient_id")
        cur.unregister("demo_decisions")
    return len(rows)


def build(path: str, patients: int = 400, seed: int = 7, as_of: dt.date | None = None) -> dict:
    """Write a demo clinic into a new store at `path`; returns the row counts written."""
    if patients < 1:
        raise db.StoreError(f"--patients must be at least 1 (got {patients})")
    as_of = as_of or dt.date.today()
    from kdash.store import pg
    if pg.is_url(path):
        return _build_record(path, patients, seed, as_of)
    con = db.connect(path)
    try:
        if db.meta(con, "demo") == "false":
            raise db.StoreError(f"{path} is a clinic's own store (made by init); demo builds a new store "
                                "(choose another --db)")
        if db.scalar(con, "SELECT count(*) FROM patients"):
            raise db.StoreError(f"{path} already holds patients; demo builds a new store (choose another --db)")
        tables = generate(patients, seed, as_of, settings.load(path))
        cfg = settings.load(path)
        with db.transaction(con) as cur:
            _insert(cur, tables, {"demo": "true", "demo_seed": str(seed), "demo_as_of": as_of.isoformat(),
                                  "demo_patients": str(patients)})
            derived.refresh(cur)
            derived.refresh_stamped(con, cur, cfg, None)
            # the clinic's last review was yesterday evening: this morning's worklist holds what came since
            acknowledge_history(cur, cfg, seed, dt.datetime.combine(as_of - dt.timedelta(days=1), dt.time(18, 0)))
        with db.transaction(con) as cur:
            decision_history(con, cur, cfg, seed, as_of)
        if not users.count(con):
            users.add_demo_accounts(con, cfg)    # documented demo sign-ins, one per role (README)
            busiest = db.scalar(con, "SELECT clinician FROM patients WHERE clinician IS NOT NULL "
                                     "GROUP BY clinician ORDER BY count(*) DESC, clinician LIMIT 1")
            with db.transaction(con) as cur:        # "my patients" for the demo clinician account
                cur.execute("UPDATE users SET clinician = $c WHERE username = 'clinician'", {"c": busiest})
        return {name: t.num_rows for name, t in tables.items() if name in INSERTS}
    finally:
        con.close()


def _build_record(url: str, patients: int, seed: int, as_of: dt.date) -> dict:
    """A demo on PostgreSQL: built as an embedded store in a temporary folder, then copied into the empty record."""
    import tempfile
    from pathlib import Path

    from kdash.store import pg_ops
    with tempfile.TemporaryDirectory(prefix="kdash-demo-") as tmp:
        path = str(Path(tmp) / "demo.duckdb")
        counts = build(path, patients, seed, as_of)
        con = db.connect(path, create=False)
        try:
            pg_ops.push(con, url)
        finally:
            con.close()
    return counts


def generate(n: int, seed: int, as_of: dt.date, cfg: dict) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    today = (as_of - dt.date(1970, 1, 1)).days
    start = today - 730
    opening, closing = cfg["clinic"]["opening_hour"], cfg["clinic"]["closing_hour"]

    # --- patients --------------------------------------------------------------------------------
    fake = Faker("en_US")
    fake.seed_instance(seed)
    female = [fake.first_name_female() for _ in range(300)]
    male = [fake.first_name_male() for _ in range(300)]
    neutral = [fake.first_name_nonbinary() for _ in range(60)]
    family = [fake.last_name() for _ in range(600)]
    clinicians = [f"Dr {fake.last_name()}" for _ in range(max(4, min(40, n // 400 + 3)))]

    sex = rng.choice(3, size=n, p=[0.6, 0.38, 0.02])                 # F, M, X
    first_names = np.array(female + male + neutral, dtype=object)
    name_idx = np.select([sex == 0, sex == 1], [rng.integers(0, 300, n), 300 + rng.integers(0, 300, n)],
                         600 + rng.integers(0, 60, n))
    age = np.clip(rng.normal(43, 12, n), 18.2, 64.9)
    older = rng.random(n) < 0.03
    age[older] = rng.uniform(66, 76, older.sum())
    minor = rng.random(n) < 0.004
    age[minor] = rng.uniform(16.5, 17.9, minor.sum())
    referral = start + rng.integers(0, 726, n)
    birth = referral - np.round(age * 365.25).astype(np.int64)
    consult = referral + np.round(rng.gamma(2.2, 7.0, n)).astype(np.int64) + 2      # median ≈ 2 weeks
    consulted = consult <= today
    kind = rng.choice(5, size=n, p=KIND_P)
    kind[minor] = FEW_TRIALS       # never treated in the demo: too few trials; the checklist flags the age for review
    clinician_idx = rng.integers(0, len(clinicians), n)
    patients = pa.table({
        "p": np.arange(n), "given_name": pa.array(first_names[name_idx].tolist()),
        "family_name": pa.array(np.array(family, dtype=object)[rng.integers(0, 600, n)].tolist()),
        "birth_day": birth, "sex": pa.array(np.array(["F", "M", "X"])[sex]),
        "referral_day": referral, "consultation_day": pa.array(consult, mask=~consulted),
        "diagnosis": pa.array(np.array(DIAGNOSES)[rng.choice(4, size=n, p=DIAGNOSIS_P)]),
        "clinician": pa.array(np.array(clinicians)[clinician_idx]),
        "mrn": rng.permutation(n) + 1_000_000,
    })
    trials = _trials(rng, kind, referral, cfg)

    # --- consultation: screening answers, blood pressure, PHQ-9, C-SSRS --------------------------
    route = rng.choice(3, size=n, p=ROUTE_P)
    base_sbp, base_dbp = rng.normal(123, 12, n), rng.normal(78, 7.5, n)
    high_bp = (kind == WARNING) & (rng.random(n) < 0.35)
    base_sbp[high_bp] = rng.uniform(142, 165, high_bp.sum())
    base_dbp[high_bp] = np.maximum(base_dbp[high_bp], rng.uniform(86, 98, high_bp.sum()))
    calm = kind == ELIGIBLE
    base_sbp[calm], base_dbp[calm] = np.minimum(base_sbp[calm], 136), np.minimum(base_dbp[calm], 87)
    screening = _screening(rng, kind, sex, age, route, consulted, consult)
    cp = np.nonzero(consulted)[0]
    screening_vitals = {
        "p": cp, "s": pa.nulls(len(cp), pa.int64()), "minute": pa.nulls(len(cp), pa.int64()),
        "at_minute": consult[cp] * 1440 + 10 * 60,
        "systolic": np.round(base_sbp[cp] + rng.normal(0, 2, len(cp))).astype(np.int64),
        "diastolic": np.round(base_dbp[cp] + rng.normal(0, 1.5, len(cp))).astype(np.int64),
        "heart_rate": np.round(rng.normal(74, 9, len(cp))).astype(np.int64),
        "spo2": np.round(rng.uniform(95, 100, len(cp))).astype(np.int64)}
    screening_vitals["systolic"] = np.where(calm[cp], np.minimum(screening_vitals["systolic"], 140),
                                            screening_vitals["systolic"])
    screening_vitals["diastolic"] = np.where(calm[cp], np.minimum(screening_vitals["diastolic"], 90),
                                             screening_vitals["diastolic"])
    screening_vitals["diastolic"] = np.minimum(screening_vitals["diastolic"], screening_vitals["systolic"] - 20)

    # --- the course: who is treated, how long they stay, how they respond ------------------------
    first = consult + np.round(rng.gamma(2.0, 6.0, n)).astype(np.int64) + 3
    first += np.where(weekday(first) >= 5, 7 - weekday(first) + rng.integers(0, 5, n), 0)   # weekend → a weekday
    treated = consulted & (rng.random(n) < TREATED_P[kind]) & (first <= today + 21)
    cls = rng.choice(3, size=n, p=[0.6, 0.16, 0.24])                   # responder / partial / non-responder
    big_f = np.select([cls == 0, cls == 1], [rng.uniform(0.5, 0.9, n), rng.uniform(0.27, 0.48, n)],
                      rng.uniform(-0.12, 0.22, n))                       # the fall from baseline reached
    tau = rng.uniform(0.8, 2.5, n)                                       # in sessions
    baseline = np.clip(np.round(rng.normal(32, 6.5, n)), 20, 52)
    planned = INDUCTION_SESSIONS[route]
    # ~20 % stop after the first session and ~half do not complete induction; non-responders more so.
    stop_score = rng.random(n) + np.select([cls == 2, cls == 1], [0.15, 0.05], 0.0)
    q80, q50 = np.quantile(stop_score, [0.8, 0.5])
    done_ind = np.where(stop_score >= q80, 1, np.where(stop_score >= q50, rng.integers(2, planned), planned))
    to_maint = (done_ind == planned) & (((cls == 0) & (rng.random(n) < 0.85)) | ((cls == 1) & (rng.random(n) < 0.4)))
    n_maint = np.where(to_maint, np.minimum(rng.geometric(1 / 24, n), 60), 0)
    maint_gap = np.select([route == 0, route == 1], [rng.choice([14, 21, 28], n), rng.choice([7, 14], n)], 7)
    relapse = to_maint & (rng.random(n) < 0.2)
    suicidality = np.where(rng.random(n) < 0.12, rng.uniform(0.3, 1.5, n), 0.0)
    acute = rng.random(n) < 0.02
    suicidality[acute] = rng.uniform(4, 7, acute.sum())

    t = np.nonzero(treated)[0]
    width = int(INDUCTION_SESSIONS.max() + 64)
    col = np.arange(width)[None, :]
    tp = planned[t][:, None]
    ind = _induction_offsets(route[t] == 0, weekday(first[t]), width)
    last_ind = np.take_along_axis(ind, tp - 1, axis=1)
    esk_weekly = (route[t] == 1)[:, None] & (col >= tp) & (col < tp + 4)      # label: weeks 5-8 weekly
    gap = np.where(esk_weekly, 7, maint_gap[t][:, None])
    offsets = np.where(col < tp, ind, last_ind + np.cumsum(np.where(col >= tp, gap, 0), axis=1))
    n_total = np.where(to_maint[t], planned[t] + n_maint[t], done_ind[t])
    day = first[t][:, None] + offsets
    rows, cols = np.nonzero((col < n_total[:, None]) & (day <= today + 21))
    course = {"p": t[rows], "day": day[rows, cols], "k": cols + 1, "maintenance": cols >= planned[t[rows]]}

    sessions, done = _sessions(rng, course, today, route, planned, consult, clinician_idx, len(clinicians),
                               rng.normal(82, 17, n).clip(45, 160), opening, closing)
    vitals = pa.concat_tables([pa.table(screening_vitals),
                               pa.table(_session_vitals(rng, done, age, base_sbp, base_dbp, route))])
    profile = dict(planned=planned, done_ind=done_ind, relapse=relapse, big_f=big_f, tau=tau, baseline=baseline,
                   suicidality=suicidality, route=route, consult=consult, consulted=consulted, today=today)
    assessments = _assessments(rng, done, profile)
    side_effects = _side_effects(rng, done)

    chairs = pa.table({"chair": [f"Chair {i}" for i in range(1, done["n_chairs"] + 1)]})
    return {"patients": patients, "antidepressant_trials": trials, "screening": screening, "chairs": chairs,
            "sessions": sessions, "vitals": vitals, "assessments": assessments,
            "side_effects": side_effects, "clinicians": pa.table({"no": np.arange(len(clinicians)),
                                                                  "name": clinicians})}


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


def _assessments(rng, done, prof) -> pa.Table:
    """MADRS and PHQ-9 before each dose and at follow-up, QIDS-SR16 for some; CADSS and MOAA/S per
    session; PHQ-9 and C-SSRS at consultation. Item scores always sum to the totals."""
    p, day, k = done["p"], done["day"], done["k"]
    today = prof["today"]
    # Fall from baseline before session k (k-1 doses given); maintenance holds or relapses.
    f = prof["big_f"][p] * (1 - np.exp(-(k - 1) / prof["tau"][p]))
    k_maint = k - prof["planned"][p]
    f = np.where(done["maintenance"], prof["big_f"][p] - prof["relapse"][p] * 0.05 * np.maximum(k_maint, 0), f)
    # Follow-up a few days after the last induction dose (most completers, some who stop).
    last_ind = np.zeros(len(prof["planned"]), dtype=np.int64)
    ind = ~done["maintenance"]
    np.maximum.at(last_ind, p[ind], day[ind])
    n_ind = np.bincount(p[ind], minlength=len(last_ind))
    has = n_ind > 0
    follow = has & ((n_ind == prof["planned"]) | (rng.random(len(has)) < 0.4))
    fp = np.nonzero(follow)[0]
    f_day = last_ind[fp] + rng.integers(1, 6, len(fp))
    session_days = p.astype(np.int64) * 100_000 + day          # a follow-up never falls on a session day
    keep = (f_day < today) & ~np.isin(fp.astype(np.int64) * 100_000 + f_day, session_days)
    fp, f_day = fp[keep], f_day[keep]
    f_fall = prof["big_f"][fp] * (1 - np.exp(-n_ind[fp] / prof["tau"][fp]))

    missing_baseline = rng.random(len(prof["planned"])) < 0.03
    take = ~((k == 1) & missing_baseline[p])
    ap = np.concatenate([p[take], fp])
    aday = np.concatenate([day[take], f_day])
    a_s = np.concatenate([done["s"][take], np.zeros(len(fp), dtype=np.int64)])
    fall = np.concatenate([f[take], f_fall]) + rng.normal(0, 0.06, len(ap))
    base = prof["baseline"][ap]
    madrs_total = np.clip(np.round(base * (1 - fall)), 0, 60).astype(np.int64)
    severity = madrs_total / base
    w = rng.gamma(2.0, size=(len(ap), 10))
    w[:, 9] = prof["suicidality"][ap] * severity
    madrs = allocate_items(rng, madrs_total, 10, 6, w)
    phq_total = np.clip(np.round(madrs_total * 0.42 + rng.normal(0, 1.8, len(ap))), 0, 27).astype(np.int64)
    w = rng.gamma(2.0, size=(len(ap), 9))
    w[:, 8] = prof["suicidality"][ap] * severity * 0.5
    phq = allocate_items(rng, phq_total, 9, 3, w)
    qids_patient = rng.random(len(prof["planned"])) < 0.25
    is_follow = np.concatenate([np.zeros(take.sum(), bool), np.ones(len(fp), bool)])
    k_all = np.concatenate([k[take], np.zeros(len(fp), dtype=np.int64)])
    q = qids_patient[ap] & (is_follow | (k_all == 1) | (k_all == 5))
    qids_total = np.clip(np.round(madrs_total[q] * 0.4 + rng.normal(0, 1.5, q.sum())), 0, 27).astype(np.int64)
    qids = qids_items(rng, qids_total)

    # consultation: PHQ-9 and C-SSRS
    cp = np.nonzero(prof["consulted"])[0]
    c_phq_total = np.clip(np.round(prof["baseline"][cp] * 0.42 + rng.normal(0, 2, len(cp))), 0, 27).astype(np.int64)
    w = rng.gamma(2.0, size=(len(cp), 9))
    w[:, 8] = prof["suicidality"][cp] * 0.5
    c_phq = allocate_items(rng, c_phq_total, 9, 3, w)
    s = prof["suicidality"][cp]
    cssrs = np.where(s > 3, rng.integers(3, 6, len(cp)), np.where(s > 0, rng.integers(1, 4, len(cp)),
                                                                  rng.choice([0, 1], len(cp), p=[0.85, 0.15])))
    # per session: CADSS falling over sessions; MOAA/S mostly alert
    cadss = rng.poisson(rng.lognormal(0, 0.5, len(prof["planned"]))[p] * (1.2 * (prof["route"][p] == 1) + 1)
                        * (11 * np.exp(-(k - 1) / 3) + 2.0)).clip(0, 92)
    moaas = rng.choice([5, 4, 3, 2], len(p), p=[0.8, 0.15, 0.04, 0.01])
    # at discharge (its own stream, so the rest of the demo is unchanged): dissociation has mostly settled (a few
    # sessions still above the line), and the patient is alert again (a few still drowsy)
    extra = np.random.default_rng([today, len(p)])
    discharge = DISCHARGE_MINUTE[prof["route"][p]]
    cadss_out = np.where(extra.random(len(p)) < 0.03, np.round(cadss * 0.6) + 5, extra.poisson(1.0, len(p)))
    cadss_out = np.minimum(cadss_out, cadss).astype(np.int64)
    moaas_out = np.where(extra.random(len(p)) < 0.02, 4, 5)

    def part(code, pp, dd, ss, total, items=None, minute=None):
        n_rows = len(pp)
        return {"p": pp, "day": dd, "scale": pa.array([code] * n_rows) if n_rows else pa.array([], pa.string()),
                "total": total.astype(np.int64), "s": pa.array(ss, mask=ss == 0),
                "items": _list(items) if items is not None else pa.nulls(n_rows, pa.list_(pa.uint8())),
                "minute": pa.array(minute, pa.int64()) if minute is not None else pa.nulls(n_rows, pa.int64())}

    parts = [part("MADRS", ap, aday, a_s, madrs.sum(axis=1), madrs),
             part("PHQ9", ap, aday, a_s, phq.sum(axis=1), phq),
             part("QIDS_SR16", ap[q], aday[q], a_s[q], qids_total, qids),
             part("PHQ9", cp, prof["consult"][cp], np.zeros(len(cp), np.int64), c_phq.sum(axis=1), c_phq),
             part("CSSRS", cp, prof["consult"][cp], np.zeros(len(cp), np.int64), cssrs),
             part("CADSS", p, day, done["s"], cadss, minute=np.full(len(p), 40)),
             part("CADSS", p, day, done["s"], cadss_out, minute=discharge),
             part("MOAAS", p, day, done["s"], moaas, minute=np.full(len(p), 40)),
             part("MOAAS", p, day, done["s"], moaas_out, minute=discharge)]
    return pa.concat_tables([pa.table(x) for x in parts])


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


_DAY = "DATE '1970-01-01' + {}::INTEGER"
_STAMP = "TIMESTAMP '1970-01-01' + to_minutes({}::BIGINT)"
_PID = "printf('P%06d', p + 1)"
_SID = "printf('S%07d', s)"

INSERTS = {
    "patients": f"""SELECT {_PID} AS patient_id, given_name, family_name, {_DAY.format('birth_day')} AS birth_date,
        sex, {_DAY.format('referral_day')} AS referral_date, {_DAY.format('consultation_day')} AS consultation_date,
        diagnosis AS primary_diagnosis, clinician, 'MRN' || mrn AS mrn FROM src ORDER BY p""",
    "antidepressant_trials": f"""SELECT {_PID} AS patient_id, drug, dose_mg_per_day,
        {_DAY.format('start_day')} AS start_date, {_DAY.format('end_day')} AS end_date, outcome, current_episode
        FROM src""",
    "screening": f"SELECT {_PID} AS patient_id, item, status, {_DAY.format('day')} AS assessed_on FROM src",
    "chairs": "SELECT chair, TRUE AS active FROM src",
    "sessions": f"""SELECT {_SID} AS session_id, {_PID} AS patient_id,
        {_STAMP.format('scheduled_minute')} AS scheduled_at, status, route, phase, dose_mg, weight_kg,
        'Chair ' || chair_no AS chair, clinicians.name AS clinician,
        {_STAMP.format('started_minute')} AS started_at, {_STAMP.format('ended_minute')} AS ended_at,
        {_STAMP.format('cancelled_minute')} AS cancelled_at, {_DAY.format('rems_day')} AS rems_form_sent_on
        FROM src JOIN clinicians ON clinicians.no = src.clinician_no ORDER BY s""",
    "vitals": f"""SELECT CASE WHEN s IS NULL THEN NULL ELSE {_SID} END AS session_id, minute, {_PID} AS patient_id,
        {_STAMP.format('at_minute')} AS measured_at, systolic, diastolic, heart_rate, spo2
        FROM src ORDER BY p, at_minute""",
    "assessments": f"""SELECT {_PID} AS patient_id, {_DAY.format('day')} AS assessed_on, scale, total, items,
        CASE WHEN s IS NULL THEN NULL ELSE {_SID} END AS session_id, minute FROM src ORDER BY p, day""",
    "side_effects": f"SELECT {_SID} AS session_id, effect, severity, NULL AS note FROM src ORDER BY s",
}


def _insert(cur, tables: dict[str, pa.Table], meta: dict[str, str]) -> None:
    cur.register("clinicians", tables["clinicians"])
    for name, select in INSERTS.items():
        cur.register("src", tables[name])
        cur.execute(f"INSERT INTO {name} BY NAME {select}")
        cur.unregister("src")
    cur.unregister("clinicians")
    for key, value in meta.items():
        cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": key, "v": value})
