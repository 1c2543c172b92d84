"""The thin Streamlit layer shared by pages: the store connection, cached queries, the demo banner.

The only module in kdash that imports Streamlit. Data functions elsewhere take (con, cfg, **params).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import threading
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from plotly.basedatatypes import BaseFigure

from kdash import access, settings
from kdash.access import audit, signins, users
from kdash.demo import build as demo
from kdash.store import db, derived
from kdash.ui import warmup, web

DEMO_PATIENTS = 400


def store_path() -> str:
    return settings.store_path()


@st.cache_resource(show_spinner="Opening the store…", on_release=lambda con: db.close(con))
def _connection(path: str):
    """One connection per process; queries take their own cursor. The first run builds the demo."""
    if path == settings.DEFAULT_DB and not Path(path).exists():
        demo.build(path, DEMO_PATIENTS, seed=7)
    con = db.connect(path, create=False)
    derived.ensure_current(con, settings.load(path))   # after an upgrade or a threshold change
    db.on_change(con, lambda changed: clear_caches())  # another replica's writes, pulled into the read model
    return con


def connection():
    con = _connection(store_path())
    db.fresh(con)         # a PostgreSQL store's read model pulls when older than its max age
    return con


def record_note() -> None:
    """On a PostgreSQL store: how fresh this replica's read model is (an embedded store is always current)."""
    from kdash.store import pg
    replica = pg.replica_of(connection())
    if replica is None:
        return
    at = dt.datetime.fromtimestamp(replica.pulled_at)
    if replica.last_error:
        st.caption(f":material/cloud_off: Record as of {at:%H:%M:%S}: the primary cannot be reached now",
                   help=replica.last_error)
    else:
        st.caption(f"Record as of {at:%H:%M:%S}", help=f"Read from the clinic network's record at most "
                   f"{replica.max_age:g} s ago; your own saves show at once.")


def today() -> dt.date:
    return dt.date.today()


@st.cache_data(ttl=600, show_spinner=False, max_entries=256)
def _cached(path: str, func: str, params: tuple, generation: int = 0):
    """kdash.<func> on the store; `generation` (the count of writes this process has made) is part of the key, so
    a write makes every later read compute anew."""
    return data_function(func)(_connection(path), settings.load(path), **dict(params))


# A data function's name ("outcomes.page_view") is what kdash.access grants a role and what the cache is keyed by;
# these are the modules that hold each name's functions, first match wins (a page's view before its statistics).
DATA_MODULES = {
    "clinic": ("kdash.clinical.clinic",), "roster": ("kdash.clinical.roster",),
    "worklist": ("kdash.clinical.worklist",), "patient": ("kdash.present.views.patient", "kdash.clinical.patient"),
    "eligibility": ("kdash.clinical.eligibility",), "recording": ("kdash.clinical.recording",),
    "decisions": ("kdash.clinical.decisions",),
    "outcomes": ("kdash.present.views.outcomes", "kdash.clinical.outcomes"),
    "side_effects": ("kdash.present.views.side_effects", "kdash.clinical.side_effects"),
    "throughput": ("kdash.present.views.throughput", "kdash.clinical.throughput"),
    "report": ("kdash.present.report",), "conference": ("kdash.present.conference",),
    "audit_view": ("kdash.access.audit_view",), "users": ("kdash.access.users",),
    "importing": ("kdash.importers.importing",),
}


def data_function(func: str):
    """The function a data-function name stands for ("outcomes.page_view": kdash.present.views.outcomes.page_view)."""
    module, name = func.rsplit(".", 1)
    for path in DATA_MODULES.get(module, ()):
        try:
            found = importlib.import_module(path)
        except ModuleNotFoundError:
            continue
        if hasattr(found, name):
            return getattr(found, name)
    raise LookupError(f"no data function {func}")


# Clinic-wide aggregates over every patient: after a write, a server with its warm-up thread running shows the
# previous figures (saying so) for at most STALE_SECONDS while the thread computes the new ones, instead of making
# each next visitor wait 1–4 s (20 people, one clinician recording: issue 20). Everything else is always current.
CLINIC_WIDE = frozenset({"outcomes.page_view", "side_effects.page_view", "throughput.page_view",
                         "clinic.sessions_per_week", "worklist.loop_by_week", "worklist.rule_frequency"})
STALE_SECONDS = 30
_writes = {"generation": 0, "at": {}}          # generation → when the write that started it was made
_done: dict[tuple, int] = {}                    # (path, func, params) → newest generation computed
_writes_lock = threading.Lock()


def generation() -> int:
    return _writes["generation"]


def compute(path: str, func: str, params: tuple, renew: bool = False):
    """The value at the current generation (computed unless cached; with renew, computed anew)."""
    g = generation()
    if renew:
        _cached.clear(path, func, params, g)
    value = _cached(path, func, params, g)
    with _writes_lock:
        if _done.get((path, func, params), -1) < g:
            _done[(path, func, params)] = g
    return value


def read(path: str, func: str, params: tuple):
    """A cached call of kdash.<func>, or a clinic-wide aggregate's previous value while its new one is computed."""
    g = generation()
    done = _done.get((path, func, params))
    if func in CLINIC_WIDE and done is not None and done < g and warmup.running():
        stale_since = _writes["at"].get(done + 1, 0.0)
        if time.time() - stale_since <= STALE_SECONDS:
            warmup.refresh_soon(path, func, params)
            stale_note(stale_since)
            return _cached(path, func, params, done)
    return compute(path, func, params)


def stale_note(since: float) -> None:
    st.caption(f"Figures as of {dt.datetime.fromtimestamp(since):%H:%M:%S}: the latest sessions are being added "
               "(a few seconds; open the page again to see them).", help="Clinic-wide figures are recomputed in "
               "the background after each write, so that nobody waits for them.")


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


# ---------------------------------------------------------------- sign-in, roles, audit

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
    only (the proxy is the one caller, README "Serving a clinic"), else the connection's own address."""
    direct = getattr(st.context, "ip_address", None)
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[0].strip() if st.context.headers else ""
    if forwarded and web.listen_address() in web.LOOPBACK:
        return forwarded
    return direct


def sidebar(sections: dict[str, list], role: str, name: str) -> None:
    """The navigation a role gets: its own pages only, then who is signed in and a way out."""
    with st.sidebar:
        for section, pages in sections.items():
            mine = [p for p in pages if access.may_open(role, p.url_path or "home")]
            if mine:
                st.caption(section)
                for p in mine:
                    st.page_link(p, label=p.title, icon=p.icon)
        st.divider()
        st.caption(f"Signed in as **{plain(name)}** ({role})")
        st.button("Sign out", icon=":material/logout:", on_click=sign_out, key="sign_out")
        record_note()


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


def clear_caches() -> None:
    """After a write: every cached query result is stale. A new generation: later reads compute anew (clinic-wide
    aggregates in the background, kdash/ui/warmup.py), and the warm-up thread computes the opening views again."""
    with _writes_lock:
        _writes["generation"] += 1
        _writes["at"][_writes["generation"]] = time.time()
    warmup.after_write()


def open_store_or_stop():
    """The connection, or a plain message and a stopped page when the store cannot be opened."""
    from kdash.ui import web
    try:
        con = connection()
    except db.StoreError as exc:
        st.error(f"The store cannot be opened: {exc}", icon=":material/error:")
        st.stop()
    reason = web.demo_exposed(db.is_demo(con))
    if reason:
        st.error(f"Not served: {reason}.", icon=":material/public_off:")
        st.stop()
    return con


def is_demo_store() -> bool:
    return db.is_demo(connection())


def demo_banner(con) -> None:
    if db.is_demo(con):
        st.warning("**Synthetic demo data.** Every patient, name and number shown here is made up by the "
                   "kdash demo generator, and the store has documented demo accounts (one per role). Do not use "
                   "it for clinical decisions.", icon=":material/science:")


def chart(spec, where=None, **kw) -> None:
    """Draw a chart that kdash.charts built (a figure, or its dict as cached). Streamlit re-validates a dict
    through plotly on every run (about 30 ms a chart: most of a warm page), but takes a figure's to_dict()
    as it is; these were validated when they were built, so they go in as figures that are their dict."""
    # plotly's own "download as PNG" would export without a role check or an audit row: the case-conference
    # page's PNG / SVG buttons (ui.download) are the way to take a figure away
    (where or st).plotly_chart(spec if isinstance(spec, BaseFigure) else _Built(spec), theme=None, width="stretch",
                               config=CHART_CONFIG, **kw)


CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]}


class _Built(BaseFigure):
    def __init__(self, spec: dict):      # no BaseFigure.__init__: that is the validation being skipped
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec


@contextlib.contextmanager
def section(name: str):
    """Draw one part of a page; if it fails, say so in its place (with the server-log reference) and go on with
    the rest of the page. Streamlit's own stop and rerun pass through."""
    from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException
    from kdash.clinical import sections
    try:
        yield
    except ScriptControlException:
        raise
    except Exception as exc:  # noqa: BLE001 - the rest of the page still renders
        failed(sections.Failed(name, sections.log_failure(name, exc)))


def failed(marker) -> None:
    st.error(f"This part of the page ({marker.section}) could not be shown because of an error in kdash; the rest of "
             f"the page is unaffected. Reference for the administrator: {marker.ref} (in the server log).",
             icon=":material/report:")


def patient_choice(page: str, help: str | None = None) -> str:
    """The patient ID this page shows, as typed (stripped). The box has a stable key and is driven from session
    state, never from `value=` (a changing value makes a new widget, which dropped what was typed); the URL's
    patient_id follows the box, and a link or the back button that changes the URL sets the box."""
    key, url_key = f"patient_choice_{page}", f"patient_choice_{page}_url"
    given = st.query_params.get("patient_id", "")
    # First visit, a link, the browser's back button, or back from another page (Streamlit drops the state of a
    # widget that a run did not draw, so the box's own key is gone then): the URL says which patient.
    if st.session_state.get(url_key) != given or key not in st.session_state:
        st.session_state[key] = given
        st.session_state[url_key] = given
    typed = st.text_input("Patient ID", key=key, max_chars=200, placeholder="e.g. P000123", help=help)
    pid = typed.strip()
    if pid != given:
        if pid:
            st.query_params["patient_id"] = pid
        else:
            st.query_params.pop("patient_id", None)
        st.session_state[url_key] = pid
    return pid


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


def plain(text) -> str:
    """Text from data, for st.markdown and titles: every markdown character escaped, so a name, a note or a file
    name is only ever text (never a link, an image, HTML or a colour directive). One rule: kdash.patient.plain."""
    from kdash.clinical import patient
    return patient.plain(text)


def data_table(df: pd.DataFrame, column_config: dict | None = None, keep: tuple[str, ...] = (), **kwargs):
    """A data table in the clinic's words (kdash.vocab): codes as labels, headers in words with their units,
    midnight timestamps as dates, empty cells as "—". column_config (by the frame's own column names) overrides."""
    from kdash import vocab
    config = {c: vocab.header(c) for c in df.columns if isinstance(c, str)}
    config.update(column_config or {})
    kwargs.setdefault("hide_index", True)
    return st.dataframe(vocab.values(df, keep), width="stretch", placeholder=vocab.EMPTY, column_config=config,
                        **kwargs)


def word_table(df: pd.DataFrame) -> None:
    """A short table drawn whole, its long words wrapping in a narrow column (a data grid would scroll sideways):
    values and headers in the clinic's words, as data_table has them."""
    from kdash import vocab
    st.table(vocab.values(df).rename(columns=vocab.header).fillna(vocab.EMPTY), hide_index=True)


def percent_columns(df: pd.DataFrame) -> dict:
    """Shares and rates (0–1) shown as percentages, headed in words."""
    from kdash import vocab
    return {c: st.column_config.NumberColumn(vocab.header(c), format="percent") for c in df.columns
            if isinstance(c, str) and (c.startswith("per_") or c.endswith(("_rate", "_low", "_high", "share")))}


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


def patient_table(table, page: str, key: str, **kwargs) -> None:
    """A table of patients (a patient_id column) whose clicked row opens that patient's page in this tab and this
    signed-in session: a link would open a new tab, which is a new Streamlit session and asks for the password."""
    drawn = f"{key}_drawn"

    def picked() -> None:
        # the patient of the row as it was drawn when clicked: this run's table may differ (a new import, a
        # colleague's change), and an index into it could open someone else
        rows = st.session_state[key].selection.rows
        ids_ = st.session_state.get(drawn, [])
        st.session_state[f"{key}_open"] = ids_[rows[0]] if rows and rows[0] < len(ids_) else None

    data_table(table, on_select=picked, selection_mode="single-row", key=key, keep=("patient_id",), **kwargs)
    st.session_state[drawn] = [str(x) for x in table["patient_id"]]
    chosen = st.session_state.pop(f"{key}_open", None)
    if chosen:
        st.session_state.pop(key, None)                 # back on this page later: nothing still selected
        st.switch_page(f"pages/{page}.py", query_params={"patient_id": chosen})


def patient_finder(page: str) -> None:
    """Find a patient by name, ID or MRN (the roster's search, as one types) and open the one clicked on this page."""
    with st.expander("Find a patient by name, ID or MRN"):
        _finder(page)


@st.fragment
def _finder(page: str) -> None:
    """Typing reruns only the finder (a fragment), a pause of 300 ms after the last key."""
    fragment_guard()
    text = st.text_input("Name, ID or MRN", key=f"finder_{page}", max_chars=80, placeholder="e.g. Garcia",
                         type="search", live="300ms")
    if not text.strip():
        return
    audit_view("roster_search", None, detail=f"finder on {page}: search={text.strip()}")
    found = fetch("roster.page", today=today(), search=text.strip(), page_no=1, page_size=10)
    if found.empty:
        st.caption("No patient matches.")
        return
    st.caption(f"{int(found['total'].iloc[0]):,} match" + (" (the first 10 shown)" if found["total"].iloc[0] > 10
                                                         else "") + ". Click a row to open the patient.")
    patient_table(found[["patient_id", "name", "birth_date", "mrn"]], page, f"finder_pick_{page}", column_config={
        "patient_id": st.column_config.TextColumn("Patient"), "name": "Name",
        "birth_date": st.column_config.DateColumn("Born"), "mrn": "MRN"})


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


SEVERITY_TEXT = {"urgent": "URGENT", "high": "HIGH", "caution": "CAUTION", "review": "REVIEW"}


def flag_worklist(where: str) -> None:
    """The open safety flags, most severe and oldest first: a clicked row shows the flag with a way to open the
    patient (same tab) and to acknowledge it with one of the clinic's actions (kdash/clinical/worklist.py)."""
    from kdash.clinical import worklist
    cfg, me = clinic_settings(), user()["name"]
    mine = fetch("worklist.my_clinician", username=me)
    if mine:
        view = st.segmented_control("Flags of", ["mine", "all"], default="mine", key=f"worklist_view_{where}",
                                    format_func=lambda v: f"My patients ({mine})" if v == "mine" else "All patients")
    else:
        view = "all"
        st.caption("All patients' flags: your account is not linked to a clinician name for \"my patients\" (an "
                   "administrator can link it with `python -m kdash users link`).")
    rows = fetch("worklist.items", today=today(), clinician=mine if view == "mine" else None)
    # the worklist shows patients' names and evidence: audited as a list seen, like a roster view
    audit_view("view_worklist", None, detail=f"{where}: {'my patients' if view == 'mine' else 'all patients'}, "
                                            f"{len(rows)} open flags")
    if rows.empty:
        st.success("No open safety flag.", icon=":material/check_circle:")
        return
    overdue = int(rows["overdue"].sum())
    st.caption(f"{len(rows):,} open flag{'s' if len(rows) != 1 else ''}"
               + (f", **{overdue} urgent overdue** (not acknowledged within {cfg['flags']['overdue_hours']} h)"
                  if overdue else "") + ". Click a row to act on it.")
    table = pd.DataFrame({
        "Severity": [("OVERDUE " if o else "") + SEVERITY_TEXT[s] for s, o in zip(rows["severity"], rows["overdue"])],
        "Rule": rows["title"], "Since": [worklist_age(d) for d in rows["age_days"]],
        "Patient": [" ".join(str(x) for x in (g, f) if pd.notna(x)) or "Name not recorded"
                    for g, f in zip(rows["given_name"], rows["family_name"])],
        "Born": rows["birth_date"], "ID": rows["patient_id"],
        "Evidence": [e if n is None else f"{e} · {n}" for e, n in zip(rows["evidence"], map(worklist.newer_text,
                                                                                           rows.to_dict("records")))],
        **({} if view == "mine" else {"Clinician": rows["clinician"]})})     # my patients: all the same clinician
    # The clicked row is kept as (patient, rule), taken from the table as it was drawn when clicked: an index would
    # point at another patient's flag once this list changes (an acknowledgement here or by a colleague).
    shown, pick = f"worklist_rows_{where}", f"worklist_pick_{where}"
    st.session_state[shown] = list(zip(rows["patient_id"], rows["rule"]))

    grid = f"worklist_{where}_{st.session_state.get(f'worklist_gen_{where}', 0)}"   # a new key clears the selection

    def picked() -> None:
        chosen = st.session_state[grid].selection.rows
        drawn = st.session_state.get(f"{shown}_drawn", [])
        st.session_state[pick] = drawn[chosen[0]] if chosen and chosen[0] < len(drawn) else None

    small = st.column_config.TextColumn
    data_table(table, on_select=picked, selection_mode="single-row", key=grid, keep=tuple(table.columns),
               # widths that fit a 1280-pixel screen beside the sidebar
               column_config={"Severity": small("Severity", width=85), "Since": small("Since", width=85),
                              "Rule": small("Rule", width=170), "Patient": small("Patient", width=130),
                              "Born": st.column_config.DateColumn("Born", width=85),
                              "ID": small("ID", width=70),
                              "Evidence": small("Evidence", width=220 if view == "mine" else 135,
                                                help="The whole evidence is shown when the row is clicked"),
                              "Clinician": small("Clinician", width=85)})
    st.session_state[f"{shown}_drawn"] = st.session_state[shown]
    chosen = st.session_state.get(pick)
    match = rows[(rows["patient_id"] == chosen[0]) & (rows["rule"] == chosen[1])] if chosen else rows.iloc[0:0]
    if len(match):
        flag_panel(match.iloc[0].to_dict(), where)


def worklist_age(days: int) -> str:
    from kdash.clinical import worklist
    return worklist.age_text(int(days))


def flag_panel(r: dict, where: str) -> None:
    """One open flag: the patient's two identifiers, the evidence, "open the patient" and the acknowledgement."""
    from kdash.clinical import patient as patient_, rules, worklist
    who = patient_.identity(r)
    with st.container(border=True):
        st.markdown(f"**{who}**  \n{SEVERITY_TEXT[r['severity']]} · {rules.RULES[r['rule']].title}: "
                    f"{patient_.plain(r['evidence'])} ({worklist.age_text(int(r['age_days']))}"
                    + (f"; {int(r['n_evidence'])} pieces of evidence since {pd.Timestamp(r['first_day']):%Y-%m-%d}"
                       if r["n_evidence"] > 1 else "") + ")"
                    + (f"  \n**New evidence**, {patient_.plain(newer)}: still open until a clinician acts."
                       if (newer := worklist.newer_text(r)) else ""))
        if st.button("Open this patient", icon=":material/monitoring:", key=f"open_{where}"):
            forget_pick(where)
            st.switch_page("pages/patient.py", query_params={"patient_id": str(r["patient_id"])})
        acknowledge_form(r["patient_id"], r["rule"], f"{where}_{r['patient_id']}_{r['rule']}", where=where)


def forget_pick(where: str) -> None:
    """Nothing selected in the worklist any more (the browser keeps a grid's selection unless its key changes)."""
    st.session_state.pop(f"worklist_pick_{where}", None)
    st.session_state[f"worklist_gen_{where}"] = st.session_state.get(f"worklist_gen_{where}", 0) + 1


def acknowledge_form(patient_id: str, rule: str, key: str, where: str | None = None) -> None:
    """Acknowledge an open flag with an action from the clinic's list and an optional note (stored, audited)."""
    from kdash.clinical import rules, worklist
    cfg = clinic_settings()
    with st.form(f"ack_{key}", clear_on_submit=True, border=False):
        cols = st.columns([2, 3, 1], vertical_alignment="bottom")
        action = cols[0].selectbox("Action taken", cfg["flags"]["actions"], index=None,
                                   placeholder="Choose the action", key=f"ack_action_{key}")
        note = cols[1].text_input("Note (optional)", max_chars=worklist.NOTE_MAX, key=f"ack_note_{key}")
        done = cols[2].form_submit_button("Acknowledge", type="primary")
    if done:
        if action is None:
            st.error("Choose the action taken before acknowledging.", icon=":material/error:")
            return
        try:
            through = worklist.acknowledge(connection_for("worklist.acknowledge"), cfg, patient_id, rule, action,
                                           note, by=user()["name"], today=today())
        except worklist.AckError as exc:
            st.error(f"Not acknowledged: {exc}.", icon=":material/error:")
            return
        clear_caches()
        if where:
            forget_pick(where)          # nothing stays selected: the next click is a deliberate one
        st.session_state["ack_note"] = (f"{rules.RULES[rule].title} acknowledged for {patient_id} ({action}); "
                                        f"evidence up to {through:%Y-%m-%d} is covered, new evidence opens a new flag.")
        st.rerun()


def ack_note() -> None:
    note = st.session_state.pop("ack_note", None)
    if note:
        st.success(patient_plain(note), icon=":material/task_alt:")


def patient_heading(h: dict) -> None:
    """The patient's two identifiers as the page's heading, and a deceased patient said so before anything else."""
    from kdash.clinical import patient as patient_
    st.subheader(patient_.identity(h))
    if h.get("deceased"):
        died = h.get("deceased_on")
        when = f" on {pd.Timestamp(died):%Y-%m-%d}" if died is not None and pd.notna(died) else ""
        st.error(f"**This patient died{when}** (from the record): no session can be recorded, and no flag or prompt "
                 "of theirs is on a worklist.", icon=":material/sentiment_neutral:")


def patient_plain(text: str) -> str:
    from kdash.clinical import patient as patient_
    return patient_.plain(text)


def percent(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def require_app_frame() -> None:
    """Make sure this page runs inside app.py's frame (banner, navigation, later sign-in).

    Streamlit 1.67 still honours the legacy `pages/` folder on a process's first run (and on every
    AppTest run): a deep link such as /patient?patient_id=P000001 would then run the page script
    alone, without app.py. When a page finds itself run that way it switches the legacy mode off and
    runs app.py in its place, within the same script run (so a button press is not lost), and app.py
    routes back to this page through st.navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager
    if getattr(_frame, "inside", False) or not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    app = Path(__file__).resolve().parents[2] / "app.py"
    code = compile(app.read_text("utf-8"), str(app), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(app)})  # noqa: S102 - our own frame script
    st.stop()


def _serialise_ast_parse() -> None:
    """CPython 3.11's ast.parse is not safe when two threads parse at once (SystemError "AST constructor
    recursion depth mismatch", CPython gh-106905); Streamlit parses each script the first time a session
    runs it, so sessions opening pages together could hit it. One parse at a time (they are rare and short)."""
    import ast
    if getattr(ast.parse, "_kdash_serialised", False):
        return
    lock, parse = threading.Lock(), ast.parse

    def serialised(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)
    serialised._kdash_serialised = True
    ast.parse = serialised


_serialise_ast_parse()


_frame = threading.local()      # set while app.py runs the page: this run already has its frame


@contextlib.contextmanager
def app_frame():
    """app.py runs the chosen page inside this: the page's require_app_frame() then knows it is framed."""
    _frame.inside = True
    try:
        yield
    finally:
        _frame.inside = False


def clinic_settings() -> dict:
    """The open store's clinic settings (defaults merged with the clinic's file)."""
    return settings.load(store_path())


def cohort_filters(with_scale: bool = True, with_period: bool = True) -> dict:
    """The cohort filters shared by the outcome and side-effect pages (same keys as kdash.outcomes.params).
    Without the period (the case-conference page shows no calendar dates) the cohort spans every date."""
    from kdash import scales, vocab
    from kdash.clinical import outcomes
    routes = {"all": "All routes", "iv_ketamine": "IV ketamine", "esketamine": "Esketamine", "sc_ketamine": "SC ketamine"}
    diagnoses = {None: "All diagnoses", "mdd": "MDD", "bipolar_depression": "Bipolar depression", "pdd": "PDD",
                 "other": "Other"}
    today_ = today()
    c = st.columns(4)
    period = (c[0].date_input("First session between", value=outcomes.default_period(today_),
                              min_value=dt.date(1990, 1, 1), max_value=today_, format="YYYY-MM-DD")
              if with_period else (None, None))
    if not with_period:
        c[0].caption("All first-treatment dates (this page shows no calendar dates).")
    route = c[1].selectbox("Route", list(routes), format_func=routes.get)
    diagnosis = c[2].selectbox("Diagnosis", list(diagnoses), format_func=diagnoses.get)
    age_band = c[3].selectbox("Age band", [None, *outcomes.AGE_BANDS], format_func=lambda v: v or "All ages")
    c = st.columns(4)
    sex = c[0].selectbox("Sex", [None, "F", "M", "X"], format_func=lambda v: vocab.SEX.get(v, "All"))
    clinician = c[1].selectbox("Clinician", [None, *fetch("roster.clinicians")], format_func=lambda v: v or "All")
    filters = {"route": route, "diagnosis": diagnosis, "age_band": age_band, "sex": sex, "clinician": clinician}
    if with_scale:
        filters["scale"] = c[2].selectbox("Scale", list(scales.DEPRESSION_SCALES),   # BDI-II: remission not defined
                                          format_func=lambda s: scales.SCALES[s].name)
        filters["analysis_set"] = c[3].selectbox(
            "Analysis set", ["itt", "completers"],
            format_func={"itt": "All treated", "completers": "Completers of induction"}.get,
            help="All treated: every treated patient; without a score at a timepoint, the last score is carried "
                 "forward (the baseline where there is none since). Completers: patients who completed the planned "
                 "induction, with the scores observed at each timepoint only.")
    if not isinstance(period, (tuple, list)) or len(period) != 2:
        st.info("Choose both ends of the date range.", icon=":material/date_range:")
        st.stop()
    filters["start"], filters["end"] = period
    if counts_only() and with_period:            # whole months: two periods a day apart are one period
        filters["start"], filters["end"] = outcomes.whole_months(*period, today_)
        if (filters["start"], filters["end"]) != tuple(period):
            st.caption(f"Counts and rates cover whole months: {filters['start']:%d %b %Y} to {filters['end']:%d %b %Y}.")
    return filters
