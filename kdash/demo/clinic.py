"""The synthetic demo clinic, vectorised so that 100,000 patients build in well under a minute.

Calibrated to ../shared/clinical-reference.md: routes and doses (§3), dropout and response near the
real-world figures (§5), side effects at the TRANSFORM-1 per-patient rates (§6), no-shows near 5 %
and chair time per route (§7). Deterministic for (patients, seed, as_of). The parts: people.py (who),
sessions.py (when, where, vitals, side effects), assessments.py (ratings), history.py (what staff did).

Arrays carry integers (patient index `p`, session number `s`, day and minute numbers since 1970);
the SQL in `_insert` turns them into IDs, dates and timestamps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from faker import Faker

from kdash import settings
from kdash.access import users
from kdash.demo.assessments import _assessments
from kdash.demo.history import acknowledge_history, decision_history
from kdash.demo.people import (
    DIAGNOSES,
    DIAGNOSIS_P,
    ELIGIBLE,
    FEW_TRIALS,
    KIND_P,
    TREATED_P,
    WARNING,
    _screening,
    _trials,
)
from kdash.demo.sessions import (
    INDUCTION_SESSIONS,
    ROUTE_P,
    _induction_offsets,
    _session_vitals,
    _sessions,
    _side_effects,
    weekday,
)
from kdash.store import db, derived


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
    # sessions to reach about two thirds of the fall: early for IV ketamine (response mostly within the first 2-3
    # infusions, Murrough 2013, Phillips 2019), later for esketamine (twice-weekly doses, responders still joining
    # at weeks 3-4 of TRANSFORM-2, Popova 2019): scaled, not redrawn, so the rest of the demo is unchanged
    tau = rng.uniform(0.8, 2.5, n) * np.where(route == 1, 1.8, 1.0)
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
        CASE WHEN s IS NULL THEN NULL ELSE {_SID} END AS session_id, minute, source,
        CASE WHEN source = 'self_report' THEN (SELECT x.scheduled_at - INTERVAL 25 MINUTE FROM sessions x
                                               WHERE x.session_id = {_SID}) END AS reported_at
        FROM src ORDER BY p, day""",
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
