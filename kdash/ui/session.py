"""Who is signed in, in this tab: the sign-in page, a sign-in resumed from the browser's cookie, single sign-on, sign-out, the idle watch."""

from __future__ import annotations

import time

import streamlit as st

from kdash.access import audit, signins, users
from kdash.store import db
from kdash.ui import web
from kdash.ui.cache import clinic_settings, connection, store_path


def user() -> dict | None:
    return st.session_state.get("user")


def _oidc_provider() -> str | None:
    """The OIDC provider configured in .streamlit/secrets.toml ([auth] or [auth.NAME]), if any."""
    try:
        auth = st.secrets.get("auth")
    except Exception:      # no secrets file at all
        return None
    if not auth:
        return None
    named = [k for k, v in auth.items() if isinstance(v, dict) or hasattr(v, "items")]
    return named[0] if named else "default"


def current_user(con, cfg: dict) -> dict | None:
    """This tab's user, or None. A tab without one takes up its browser's sign-in (a reload, a second tab); every
    run checks that sign-in is still open (sign-out elsewhere, idle time, expiry, a disabled account) and sets the
    audit actor."""
    u = st.session_state.get("user")
    if u is None:
        u = _resumed(con, cfg)
    if u is None and _oidc_provider() and getattr(st.user, "is_logged_in", False):
        u = _oidc_user(con, cfg)
    if u is not None:
        why = _ended(con, cfg, u)
        if why:
            if why not in ("sign_out", "unknown"):
                with db.transaction(con) as cur:
                    audit.log(cur, f"signed_out_{why}", username=u["name"], role=u["role"])
            st.session_state.pop("user", None)
            note = signins.message(why, cfg)
            if note:
                st.session_state["sign_in_note"] = note
            u = None
    if u is None:
        audit.act_as(None, None)
        return None
    u["seen"] = time.time()
    audit.act_as(u["name"], u["role"])
    return u


def _ended(con, cfg: dict, u: dict, touch: bool = True) -> str | None:
    """Why this tab's user may not go on (a key of signins.ENDED), or None (touch=False: a look that is not a
    click, by the idle timer)."""
    if u.get("sid"):
        check = signins.check(con, cfg, u["sid"], seen_here=u.get("seen"), touch=touch)
        if check.role and check.role != u["role"]:
            u["role"] = check.role            # an administrator changed it: the next page check uses it
        return check.ended_why
    if time.time() - u["seen"] > cfg["access"]["idle_minutes"] * 60:
        return "idle"
    if not u.get("oidc") and users.is_disabled(con, u["name"]):
        return "disabled"
    return None


def _resumed(con, cfg: dict) -> dict | None:
    """The sign-in this browser's cookie names, for a tab that has none yet (audited, unless it is the tab the
    sign-in's own redirect opened)."""
    try:
        cookie = st.context.cookies.get(signins.COOKIE)
    except Exception:         # no browser behind this run (AppTest)
        cookie = None
    if not isinstance(cookie, str) or not 0 < len(cookie) <= 100:
        return None
    sid = signins.signin_id(cookie)
    check = signins.check(con, cfg, sid)
    if check.ended_why:
        if check.ended_why not in ("sign_out", "unknown"):
            st.session_state["sign_in_note"] = signins.message(check.ended_why, cfg)
        return None
    if not signins.first_load(sid):
        with db.transaction(con) as cur:
            audit.log(cur, "signin_resumed", username=check.username, role=check.role,
                      detail="a reload or another tab of a signed-in browser")
    st.session_state["user"] = {"name": check.username, "role": check.role, "seen": time.time(), "sid": sid}
    return st.session_state["user"]


def leave_staff_session(con, cfg: dict) -> None:
    """The patient check-in (pages/checkin.py) shows no staff session: a staff user of this tab, or a sign-in this
    browser's cookie still holds (a tablet a clinician used), is signed out first, in every tab that holds it."""
    u = st.session_state.pop("user", None)
    sid = (u or {}).get("sid")
    if sid is None:
        try:
            cookie = st.context.cookies.get(signins.COOKIE)
        except Exception:         # no browser behind this run (AppTest)
            cookie = None
        if isinstance(cookie, str) and 0 < len(cookie) <= 100:
            sid = signins.signin_id(cookie)
    check = signins.check(con, cfg, sid, touch=False) if sid else None
    if check is not None and not check.ended_why:
        signins.end(con, sid, "checkin")
        with db.transaction(con) as cur:
            audit.log(cur, "signed_out_checkin", username=check.username, role=check.role,
                      detail="the patient check-in was opened in this browser")
    elif u is not None and u.get("oidc"):
        with db.transaction(con) as cur:
            audit.log(cur, "signed_out_checkin", username=u["name"], role=u["role"],
                      detail="the patient check-in was opened in this browser")
    audit.act_as(None, None)


def _oidc_user(con, cfg: dict) -> dict | None:
    email = getattr(st.user, "email", None)
    role = users.role_for_email(cfg, email)
    with db.transaction(con) as cur:
        audit.log(cur, "sign_in" if role else "sign_in_failed", username=email, role=role,
                  detail="single sign-on" if role else "single sign-on: no role for this account")
    if role is None:
        st.session_state["sign_in_note"] = ("Your account signed in with the clinic's provider, but no kdash role is "
                                            "set for it. Ask an administrator to add it to [access.oidc_roles].")
        return None
    st.session_state["user"] = {"name": email, "role": role, "seen": time.time(), "oidc": True}
    return st.session_state["user"]


def sign_in_page(con, cfg: dict, next_path: str = "/") -> None:
    """The only thing a signed-out visitor sees. A sign-in sends the browser through kdash/ui/web.py for its cookie
    and back to `next_path` (the page and patient it asked for)."""
    st.title("Sign in to kdash")
    note = st.session_state.pop("sign_in_note", None)
    if note:
        st.info(note, icon=":material/logout:")
    if db.is_demo(con):
        st.info("Demo accounts on this synthetic store: " + ", ".join(f"**{n}**" for n in users.DEMO_ACCOUNTS)
                + f" (one per role), each with the password `{users.DEMO_PASSWORD}`.", icon=":material/key:")
    provider = _oidc_provider()
    if provider:
        st.button("Sign in with the clinic's account", type="primary", icon=":material/login:",
                  on_click=st.login, args=() if provider == "default" else (provider,))
        st.caption("Or with a local kdash account:")
    with st.form("sign_in"):
        name = st.text_input("User name", max_chars=40, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=200, autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        browser = browser_nonce()
        result = users.sign_in(con, cfg, name, password, client=client_address())
        if result.ok and not browser:
            st.error("This browser did not keep kdash's cookie, which ties a sign-in to it: reload the page and sign "
                     "in again (cookies for this site must be allowed).", icon=":material/cookie:")
            st.stop()
        if result.ok:
            cookie = signins.start(con, cfg, result.username, result.role)
            st.session_state["user"] = {"name": result.username, "role": result.role, "seen": time.time(),
                                        "sid": signins.signin_id(cookie)}
            # The browser reloads through the route and comes back signed in: this run draws nothing more, so the
            # page asked for is drawn (and audited) once, by the tab that carries the cookie.
            _redirect(web.session_url(signins.ticket_for(cookie, browser), next_path))
            st.info("Signed in. Opening the page…", icon=":material/login:")
            st.stop()
        st.error(result.message, icon=":material/lock:")
    if not users.count(con):
        st.warning("This store has no accounts yet. Create the first administrator on the server with "
                   f"`python -m kdash users add NAME --role admin --db {store_path()}`.", icon=":material/person_add:")


def browser_nonce() -> str | None:
    """This browser's kdash_browser cookie (kdash/ui/web.py sets it on the first page load): a sign-in is bound to it."""
    return st.context.cookies.get(web.BROWSER_COOKIE) if st.context.cookies else None


def client_address() -> str | None:
    """The signing-in browser's address: the reverse proxy's X-Forwarded-For when the server listens on this machine
    only (the proxy is the one caller, docs/operations.md "Serving a clinic"), else the connection's own address."""
    direct = getattr(st.context, "ip_address", None)
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[0].strip() if st.context.headers else ""
    if forwarded and web.listen_address() in web.LOOPBACK:
        return forwarded
    return direct


def sign_out() -> None:
    """Ends this sign-in in every tab that holds it, and drops the browser's cookie."""
    u = st.session_state.pop("user", None)
    if u:
        with db.transaction(connection()) as cur:
            audit.log(cur, "sign_out", username=u["name"], role=u["role"])
        if u.get("sid"):
            signins.end(connection(), u["sid"], "sign_out")
            _redirect(web.sign_out_url())
    if u and u.get("oidc"):
        st.logout()


def here(page) -> str:
    """This tab's page and query string as a path of this app (where a sign-in comes back to)."""
    from urllib.parse import urlencode
    query = urlencode(st.query_params.to_dict())
    return web.base_path() + (page.url_path or "") + (f"?{query}" if query else "")


def _redirect(url: str) -> None:
    """Send the browser to a URL of this app over plain HTTP (Streamlit's own st.login does the same)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    if ctx is not None:
        msg = ForwardMsg()
        msg.auth_redirect.url = url
        ctx.enqueue(msg)


IDLE_CHECK_SECONDS = 30


def idle_watch(con, cfg: dict) -> None:
    """Every 30 s, without a click, look whether this tab's sign-in has ended (idle, signed out elsewhere,
    disabled): then the whole page reruns, and shows the sign-in page instead of the patient."""
    @st.fragment(run_every=IDLE_CHECK_SECONDS)
    def _watch() -> None:
        u = st.session_state.get("user")
        if u is not None and _ended(con, cfg, u, touch=False):
            st.rerun(scope="app")
    with st.sidebar:
        _watch()


def fragment_guard() -> None:
    """A fragment's own rerun skips app.py's frame: check the sign-in here too (idle, sign-out elsewhere, a disabled
    account), and on failure rerun the whole app, which then shows the sign-in page."""
    if current_user(connection(), clinic_settings()) is None:
        st.rerun(scope="app")
