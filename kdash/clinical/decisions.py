"""Clinician decisions on eligibility: a sign-off of the computed verdict, or an override with a reason.
Stored with name and time, and audited, in one transaction."""

from __future__ import annotations

import datetime as dt

import duckdb

from kdash.access import audit
from kdash.store import db

KINDS = ("sign_off", "override")
VERDICTS = ("eligible", "not_eligible", "needs_review")


class DecisionError(ValueError):
    """A decision that cannot be recorded, with the reason in words for the form."""


def record(con: duckdb.DuckDBPyConnection, patient_id: str, route: str, kind: str, verdict: str,
           reason: str | None, decided_by: str, at: dt.datetime | None = None, role: str | None = None) -> dict:
    reason = (reason or "").strip() or None
    decided_by = (decided_by or "").strip()
    if kind not in KINDS:
        raise DecisionError(f"unknown kind of decision {kind!r}")
    if verdict not in VERDICTS:
        raise DecisionError(f"unknown verdict {verdict!r}")
    if route not in ("iv_ketamine", "esketamine"):
        raise DecisionError(f"unknown route {route!r}")
    if kind == "override" and not reason:
        raise DecisionError("a reason is required to override the computed verdict")
    if not decided_by:
        raise DecisionError("the deciding clinician's name is required")
    if len(reason or "") > 2000:
        raise DecisionError("the reason is longer than 2,000 characters")
    at = at or dt.datetime.now().replace(microsecond=0)
    with db.transaction(con) as cur:
        if not cur.execute("SELECT count(*) FROM patients WHERE patient_id = $p", {"p": patient_id}).fetchone()[0]:
            raise DecisionError(f"no patient with ID {patient_id!r}")
        cur.execute("INSERT INTO eligibility_decisions VALUES ($p, $r, $k, $v, $why, $by, $at)",
                    {"p": patient_id, "r": route, "k": kind, "v": verdict, "why": reason, "by": decided_by, "at": at})
        audit.log(cur, f"eligibility_{kind}", username=decided_by, role=role, patient_id=patient_id,
                  detail=f"{route}: {verdict}", at=at)
    return {"kind": kind, "verdict": verdict, "reason": reason, "decided_by": decided_by,
            "decided_at": at.isoformat(timespec="minutes")}
