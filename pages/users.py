"""Users (admin): local accounts, their roles, locks and passwords."""

import streamlit as st

from kdash import access, ui, vocab
from kdash.access import users

ui.require_app_frame()
cfg = ui.clinic_settings()
me = ui.user()["name"]

st.title("Users")
st.markdown("Local kdash accounts. Passwords are stored as argon2 hashes; an account locks after "
           f"{cfg['access']['max_failed_sign_ins']} failed sign-ins in a row (from {cfg['access']['lockout_seconds']} s, "
           "doubling). The same can be done on the server with `python -m kdash users …`.")

con = ui.connection_for("users.listing")
accounts = users.listing(con)
ui.data_table(accounts.assign(role=accounts["role"].map(lambda r: vocab.ROLES.get(r, r))), column_config={
    "username": "User name", "role": "Role",
    "clinician": st.column_config.TextColumn("Clinician", help="The clinician name this account's \"my patients\" "
                                             "follows (set below, under Change an account)"),
    "disabled": st.column_config.CheckboxColumn("Disabled"),
    "failed_attempts": st.column_config.NumberColumn("Failed sign-ins", help="In a row, since the last success"),
    "locked_until": st.column_config.DatetimeColumn("Locked until", format="YYYY-MM-DD HH:mm"),
    "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm")})


def done(message: str) -> None:
    st.session_state["users_note"] = message


note = st.session_state.pop("users_note", None)
if note:
    st.success(note, icon=":material/task_alt:")

left, right = st.columns(2)
with left:
    st.subheader("Add an account")
    with st.form("add_user", clear_on_submit=True):
        name = st.text_input("User name", max_chars=40)
        role = st.selectbox("Role", access.ROLES, format_func=vocab.ROLES.get)
        password = st.text_input("First password", type="password", max_chars=200,
                                 help=f"At least {cfg['access']['min_password_length']} characters.")
        if st.form_submit_button("Add", type="primary"):
            try:
                added = users.add(ui.connection_for("users.add"), cfg, name, role, password, by=me)
            except users.UserError as exc:
                st.error(f"Not added: {ui.plain(exc)}.", icon=":material/error:")
            else:
                done(f"Added {added} as {vocab.ROLES[role].lower()}.")
                st.rerun()
with right:
    st.subheader("Change an account")
    names = list(accounts["username"])
    if names:
        who = st.selectbox("Account", names, key="who")
        c = st.columns(2)
        disabled = bool(accounts.loc[accounts["username"] == who, "disabled"].iloc[0])
        if c[0].button("Enable" if disabled else "Disable", disabled=who == me and not disabled,
                       help="You cannot disable your own account." if who == me else None):
            users.set_disabled(ui.connection_for("users.set_disabled"), who, not disabled, by=me)
            done(f"{who} is {'enabled' if disabled else 'disabled'}.")
            st.rerun()
        with st.form("link"):
            linked = accounts.loc[accounts["username"] == who, "clinician"].iloc[0]
            known = [None, *ui.fetch("users.clinician_names")]
            clinician = st.selectbox("Clinician name for \"my patients\"", known,
                                     index=known.index(linked) if linked in known else 0,
                                     format_func=lambda v: "No one: all patients" if v is None else v,
                                     help="The clinician name of the record whose patients this account's worklist "
                                          "shows first.")
            if st.form_submit_button("Link"):
                try:
                    now_linked = users.link_clinician(ui.connection_for("users.link_clinician"), who, clinician, by=me)
                except users.UserError as exc:
                    st.error(f"Not linked: {ui.plain(exc)}.", icon=":material/error:")
                else:
                    done(f"{who} now follows {now_linked}." if now_linked else f"{who} follows no clinician.")
                    st.rerun()
        with st.form("reset", clear_on_submit=True):
            new = st.text_input("New password (also unlocks the account)", type="password", max_chars=200)
            if st.form_submit_button("Reset password"):
                try:
                    users.reset_password(ui.connection_for("users.reset_password"), cfg, who, new, by=me,
                                         keep_signin=(ui.user() or {}).get("sid"))
                except users.UserError as exc:
                    st.error(f"Not changed: {ui.plain(exc)}.", icon=":material/error:")
                else:
                    done(f"New password set for {who}.")
                    st.rerun()
