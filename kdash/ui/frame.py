"""The frame every page runs in: the store opened (or a plain stop), the demo banner, the navigation a role gets, deep links routed through app.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from pathlib import Path

import streamlit as st

from kdash import vocab

from kdash import access
from kdash.store import db
from kdash.ui import web
from kdash.ui.cache import connection
from kdash.ui.session import sign_out
from kdash.ui.show import plain


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
        st.caption(f"Signed in as **{plain(name)}** ({vocab.ROLES.get(role, role).lower()})")
        st.button("Sign out", icon=":material/logout:", on_click=sign_out, key="sign_out")
        record_note()


def open_store_or_stop():
    """The connection, or a plain message and a stopped page when the store cannot be opened."""
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
