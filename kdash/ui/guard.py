"""What the signed-in role may see, and the audit of each look: data-function checks, refusals, view audits, a manager's counts-only suppression."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from kdash import access
from kdash.access import audit
from kdash.store import db
from kdash.ui.cache import connection, read, store_path
from kdash.ui.session import user


def fetch(func: str, **params):
    """Call kdash.<module>.<name>(con, cfg, **params) once per store, arguments and write (cached, ttl 10 min),
    after checking that the signed-in role may call it."""
    require(func)
    return read(store_path(), func, tuple(sorted(params.items())))


def connection_for(func: str):
    """The connection, for a direct call of kdash.<func> (a write, an export), after the role check."""
    require(func)
    return connection()


def require(func: str) -> None:
    """Stop the page with a plain refusal (audited) when the signed-in role may not call kdash.<func>."""
    user = st.session_state.get("user")
    role = user["role"] if user else None
    if not access.may_call(role, func):
        refuse(f"data function {func}")
        st.stop()


def refuse(what: str) -> None:
    """A plain refusal for the signed-in role, written to the audit trail with the patient asked for."""
    from kdash.clinical import patient
    u = user() or {}
    asked = st.query_params.get("patient_id")
    pid = asked if asked and not patient.id_problem(asked) else None
    with db.transaction(connection()) as cur:
        audit.log(cur, "refused", username=u.get("name"), role=u.get("role"), patient_id=pid, detail=what)
    st.error(f"Your role ({u.get('role', 'signed out')}) cannot open {what}. Ask an administrator if you "
             "need it.", icon=":material/block:")


_VIEW_LOG_SECONDS = 600


def audit_view(action: str, patient_id: str | None, detail: str | None = None) -> None:
    """Audit that this user looked at a patient (or searched): once per user, patient and page every ten minutes,
    not per rerun. Kept per user: a second person signing in in the same tab is audited afresh."""
    seen = st.session_state.setdefault("_audited_views", {})
    key = ((user() or {}).get("name"), action, patient_id, detail if patient_id is None else None)
    if time.time() - seen.get(key, 0) < _VIEW_LOG_SECONDS:
        return
    with db.transaction(connection()) as cur:
        audit.log(cur, action, patient_id=patient_id, detail=detail)
    seen[key] = time.time()


def audit_now(action: str, patient_id: str | None, detail: str | None = None) -> None:
    """Audit one deliberate act of looking (a session loaded to edit), every time it happens."""
    with db.transaction(connection()) as cur:
        audit.log(cur, action, patient_id=patient_id, detail=detail)


def counts_only() -> bool:
    """Whether this user sees the clinic in counts and rates only (a manager): cells under 5 patients hidden."""
    return (user() or {}).get("role") != "clinician"


def too_few(n_patients: int, what: str = "patients") -> bool:
    """For a counts-only user, a cohort under deid.MIN_CELL patients is not shown at all: say so, and True."""
    from kdash.clinical import deid
    if counts_only() and 0 < n_patients < deid.MIN_CELL:
        st.info(f"Fewer than {deid.MIN_CELL} {what} match these filters: their figures are not shown, so that no "
                "one can be recognised. Widen the filters.", icon=":material/visibility_off:")
        return True
    return False


def count_text(n: int) -> str:
    """A patient count as this user may see it: 1 to 4 as "<5" for a counts-only user."""
    return "<5" if counts_only() and 0 < n < 5 else f"{n:,}"


def suppressed(df: pd.DataFrame, counts: list[str], derived: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """A table as a counts-only user sees it: patient counts of 1 to 4 as "<5", the rates resting on them "—"."""
    from kdash.clinical import deid
    if not counts_only():
        return df
    out = deid.suppress(df, counts, derived)
    # one type per column for the grid: the counts and rates as text beside their "<5" and "—"
    for col in counts:
        out[col] = [v if isinstance(v, str) else "—" if pd.isna(v) else f"{int(v):,}" for v in out[col]]
    for col in {d for ds in (derived or {}).values() for d in ds}:
        out[col] = [v if isinstance(v, str) else "—" if pd.isna(v) else
                    (f"{100 * v:.1f} %" if col.startswith("per_") or col.endswith(("_rate", "_low", "_high"))
                     else f"{v:,.0f}") for v in out[col]]
    return out
