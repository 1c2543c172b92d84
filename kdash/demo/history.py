"""What the demo clinic's staff did: acknowledgements of flags with the clinic's actions, after the delays a clinic
takes, and eligibility decisions (sign-offs and overrides)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

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
    """Eligibility decisions a working clinic records (clinical reference §2): before the first treatment, the
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
