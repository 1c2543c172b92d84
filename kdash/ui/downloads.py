"""Downloads: bytes made at the click, only for a user still allowed them, and audited then."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from kdash import access
from kdash.access import audit, signins, users
from kdash.store import db
from kdash.ui.cache import clinic_settings, connection
from kdash.ui.guard import require
from kdash.ui.session import user


class ExportRefused(Exception):
    """A download asked for by someone no longer allowed it (signed out, idle, disabled, another role)."""


def download(label: str, make, file_name: str, mime: str, action: str, func: str, patient_id: str | None = None,
             detail: str | None = None, where=None, **kwargs) -> None:
    """A download button whose bytes are made on click, only for the signed-in user whose role may call `func`,
    and audited then with that user, role, patient and what was exported.

    Streamlit runs a download's callable outside the page's run, without its session state: so the user, the
    sign-in and the connection are taken now, and at the click the sign-in is checked again (ended, idle,
    expired, disabled) together with the role. A refusal is audited and raises: the browser says the file could
    not be made, and nothing is exported."""
    require(func)
    me, con, cfg = dict(user()), connection(), clinic_settings()

    def run():
        why = export_refusal(con, cfg, me, func)
        if why:
            with db.transaction(con) as cur:
                audit.log(cur, "refused", username=me["name"], role=me["role"], patient_id=patient_id,
                          detail=f"{action} {file_name}: {why}")
            raise ExportRefused(f"{action} refused: {why}")
        data = make()
        with db.transaction(con) as cur:
            audit.log(cur, action, username=me["name"], role=me["role"], patient_id=patient_id,
                      detail=detail or file_name)
        return data

    (where or st).download_button(label, run, file_name, mime, **kwargs)


def export_refusal(con, cfg: dict, me: dict, func: str) -> str | None:
    """Why the user a page was drawn for may not export now, or None."""
    if me.get("sid"):
        check = signins.check(con, cfg, me["sid"])
        if check.ended_why:
            return f"the sign-in has ended ({check.ended_why})"
        role = check.role
    else:                     # an OpenID sign-in or a test's: this tab's idle time and the account
        if time.time() - me.get("seen", 0) > cfg["access"]["idle_minutes"] * 60:
            return "the sign-in has ended (idle)"
        if not me.get("oidc") and users.is_disabled(con, me["name"]):
            return "the account is disabled"
        role = me["role"]
    if not access.may_call(role, func):
        return f"the {role} role may not export this"
    return None


def csv_download(df: pd.DataFrame, file_name: str, func: str, label: str = "Download CSV", key: str | None = None,
                 patient_id: str | None = None) -> None:
    """A table's CSV with the same words as on screen (kdash.vocab.to_csv), formulas neutralised, made and
    audited at the click (download above)."""
    from kdash import vocab
    download(label, lambda: vocab.to_csv(df), file_name, "text/csv", "export_csv", func, patient_id=patient_id,
             detail=f"{file_name} ({len(df):,} rows)", key=key or f"csv_{file_name}", icon=":material/download:")
