"""Check-in on the staff side (kdash/clinical/checkin.py): issuing a code with its QR code and printable slip, the
patient's codes (used, expired, revoked), today's self-report, and striking a self-report made in error."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from kdash import scales
from kdash.store import db
from kdash.ui.cache import clear_caches, clinic_settings, today
from kdash.ui.downloads import download
from kdash.ui.guard import connection_for, fetch
from kdash.ui.session import user
from kdash.ui.show import data_table, plain

STATE = {"open": "open", "used": "used", "expired": "expired", "revoked": "revoked",
         "locked": "locked (too many wrong birth dates)"}


def checkin_url(code: str) -> str:
    """The address a patient's phone opens: this server as the browser reached it, /checkin?code=…"""
    from kdash.ui import web
    try:
        here = urlsplit(st.context.url or "")
    except Exception:          # no browser behind this run (AppTest)
        here = urlsplit("")
    origin = f"{here.scheme}://{here.netloc}" if here.scheme and here.netloc else ""
    return f"{origin}{web.base_path()}checkin?code={code}"


def cfg_item9() -> int:
    return clinic_settings()["safety"]["phq9_item9_min"]


def todays_self_report(pid: str) -> None:
    """'Today's self-report' for the clinician, above the flags (the patient page) or the form (Record a session)."""
    from kdash.clinical import checkin
    rows = fetch("checkin.self_reports", patient_id=pid, since=today())
    rows = rows[rows["struck_at"].isna()] if len(rows) else rows
    if rows.empty:
        return
    at = pd.Timestamp(rows["reported_at"].max())
    text = "; ".join(checkin.summary(r) for r in rows.to_dict("records"))
    from kdash.clinical import rules
    item9 = any(r["scale"] == "PHQ9" and len(rules.item_scores(r["items"]) or []) >= 9
                and rules.item_scores(r["items"])[8] >= cfg_item9() for r in rows.to_dict("records"))
    (st.error if item9 else st.info)(f"**Today's self-report** (check-in at {at:%H:%M}): {plain(text)}"
                                     + (" — the patient was asked to speak to staff now." if item9 else ""),
                                     icon=":material/how_to_reg:")


def checkin_panel(pid: str, where: str = "patient", compact: bool = False) -> None:
    """Issue a check-in code for this patient, with its slip; list the codes; list and strike self-reports."""
    from kdash.clinical import checkin
    cfg = clinic_settings()
    issued_key = f"ck_issued_{where}_{pid}"
    with st.form(f"ck_issue_{where}_{pid}", border=False):
        cols = st.columns([3, 2], vertical_alignment="bottom")
        forms = cols[0].multiselect("Forms for the check-in", checkin.FORMS, default=list(cfg["checkin"]["forms"]),
                                    format_func=lambda f: scales.SCALES[f].name, key=f"ck_forms_{where}_{pid}")
        go = cols[1].form_submit_button("Issue a check-in code", icon=":material/qr_code_2:", type="primary")
    if go:
        try:
            st.session_state[issued_key] = checkin.issue(connection_for("checkin.issue"), cfg, pid, forms,
                                                         by=user()["name"])
        except checkin.CheckinError as exc:
            st.error(f"No code issued: {exc}.", icon=":material/error:")
        else:
            clear_caches()
    issued = st.session_state.get(issued_key)
    if issued:
        _issued(issued, pid, cfg)
    if compact:
        return
    codes = fetch("checkin.codes_for", patient_id=pid)
    if len(codes):
        with st.expander(f"Check-in codes of this patient ({len(codes)})"):
            data_table(pd.DataFrame({
                "Code": ["…" + h for h in codes["hint"]],
                "Forms": [", ".join(scales.SCALES[f].name for f in fs.split(",")) for fs in codes["forms"]],
                "Issued": codes["issued_at"], "By": codes["issued_by"], "Valid until": codes["expires_at"],
                "State": [STATE[s] for s in codes["state"]], "Sent": codes["used_at"]}), keep=("State", "Forms"),
                column_config={c: st.column_config.DatetimeColumn(c, format="YYYY-MM-DD HH:mm")
                               for c in ("Issued", "Valid until", "Sent")})
            live = codes[codes["state"] == "open"]
            if len(live) and st.button(f"Revoke the open code …{live['hint'].iloc[0]}", icon=":material/block:",
                                       key=f"ck_revoke_{where}_{pid}"):
                try:
                    checkin.revoke(connection_for("checkin.revoke"), cfg, pid, live["hint"].iloc[0], user()["name"])
                except checkin.CheckinError as exc:
                    st.error(f"Not revoked: {exc}.", icon=":material/error:")
                else:
                    st.session_state.pop(issued_key, None)
                    clear_caches()
                    st.rerun()
    _self_reports(pid, cfg)


def _issued(issued: dict, pid: str, cfg: dict) -> None:
    from kdash.present import slip
    url = checkin_url(issued["code"])
    until = dt.datetime.fromisoformat(issued["expires_at"])
    with st.container(border=True):
        left, right = st.columns([3, 2])
        left.markdown(f"Check-in code for this patient, valid once until {until:%a %d %b %H:%M}:")
        left.markdown(f"# {issued['code']}")
        # the address as text, never a link: opened in this browser it would end this clinician's sign-in
        left.caption(f"The patient scans the QR code or opens `{url.split('?')[0]}` on a phone or the clinic's tablet, "
                     "types the code and their date of birth. Nothing on the slip names the patient.")
        download("Print the slip (PDF)", lambda: slip.slip_pdf(cfg["clinic"]["name"], issued["code"], url,
                                                                issued["expires_at"], issued["forms"],
                                                                synthetic=db.is_demo(connection_for("checkin.issue"))),
                 f"checkin-slip-{issued['code'][-4:]}.pdf", "application/pdf", "export_checkin_slip", "checkin.issue",
                 patient_id=pid, detail=f"slip for code …{issued['code'][-4:]}", where=left,
                 icon=":material/print:", key=f"ck_slip_{issued['code']}")
        right.image(slip.qr_png(url, scale=6), caption="Scan to check in", width=200)


def _self_reports(pid: str, cfg: dict) -> None:
    from kdash.clinical import checkin
    rows = fetch("checkin.self_reports", patient_id=pid)
    if rows.empty:
        st.caption("No self-report from this patient yet.")
        return
    struck = rows["struck_at"].notna()
    with st.expander(f"Self-reports ({int((~struck).sum())}" + (f", {int(struck.sum())} struck" if struck.any() else "")
                     + ")"):
        data_table(pd.DataFrame({
            "Sent": rows["reported_at"], "Form": [scales.SCALES[s].name for s in rows["scale"]],
            "Score": [checkin.summary(r) for r in rows.to_dict("records")],
            "Difficulty": [checkin.DIFFICULTY_OPTIONS[int(d)] if pd.notna(d) else None for d in rows["difficulty"]],
            "Status": [f"struck by {b} on {pd.Timestamp(a):%Y-%m-%d}: {r}" if pd.notna(a) else "counted"
                       for a, b, r in zip(rows["struck_at"], rows["struck_by"], rows["reason"])]}),
            keep=("Status", "Score", "Difficulty"),
            column_config={"Sent": st.column_config.DatetimeColumn("Sent", format="YYYY-MM-DD HH:mm")})
        live = rows[~struck].reset_index(drop=True)
        if live.empty:
            return
        with st.form(f"ck_strike_{pid}", clear_on_submit=True, border=False):
            st.caption("A self-report made in error (the wrong patient, a test) can be struck: it is kept and audited, "
                       "and left out of every statistic, trend and flag.")
            cols = st.columns([3, 3, 1], vertical_alignment="bottom")
            pick = cols[0].selectbox("Self-report", range(len(live)), index=None, placeholder="Choose one",
                                     format_func=lambda i: f"{checkin.summary(live.iloc[i].to_dict())}, sent "
                                                           f"{pd.Timestamp(live['reported_at'].iloc[i]):%Y-%m-%d %H:%M}")
            reason = cols[1].text_input("Reason", max_chars=500)
            go = cols[2].form_submit_button("Strike")
        if go:
            if pick is None:
                st.error("Choose the self-report to strike.", icon=":material/error:")
                return
            r = live.iloc[pick]
            try:
                checkin.strike(connection_for("checkin.strike"), cfg, pid, r["scale"], r["reported_at"], reason,
                               user()["name"])
            except checkin.CheckinError as exc:
                st.error(f"Not struck: {exc}.", icon=":material/error:")
                return
            clear_caches()
            st.rerun()


def todays_checkins(day: dt.date) -> None:
    """Today's sessions, for issuing each patient a check-in code before they arrive (home page)."""
    from kdash.ui.guard import audit_view
    rows = fetch("checkin.todays_sessions", today=day)
    with st.expander(f"Check-in codes for today's sessions ({len(rows)})", icon=":material/qr_code_2:"):
        if rows.empty:
            st.caption("No session booked for today.")
            return
        audit_view("view_todays_checkins", None, detail=f"{len(rows)} sessions today")
        names = {r["patient_id"]: f"{pd.Timestamp(r['scheduled_at']):%H:%M} · "
                                  f"{' '.join(str(x) for x in (r['given_name'], r['family_name']) if pd.notna(x))} "
                                  f"({r['patient_id']})" + (" · self-report sent" if r["reported_today"] else
                                                           " · code issued" if r["open_code"] else "")
                 for r in rows.to_dict("records")}
        pid = st.selectbox("Patient", list(names), index=None, format_func=names.get, placeholder="Choose a patient",
                           key="ck_today_patient")
        if pid:
            audit_view("view_patient_checkin", pid)
            checkin_panel(pid, where="home", compact=True)
