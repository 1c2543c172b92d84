"""Sign-ins that outlive a browser tab: a server-side row per sign-in, found by an HttpOnly cookie.

A Streamlit tab is one websocket session; a reload or a second tab is a new one. So a successful sign-in starts a
row here and hands the browser a cookie through a one-time ticket (kdash/ui/web.py sets it over plain HTTP, which a
websocket cannot). Each run of a signed-in tab checks its row, so a sign-out, the idle time, the expiry, a disabled
account or a password reset ends every tab of that sign-in at its next click. The store keeps only the cookie's
SHA-256, never the cookie itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

import duckdb

from kdash.store import db

COOKIE = "kdash_session"
TICKET_SECONDS = 30          # a ticket is redeemed by the browser's redirect at once; it is one-time
TOUCH_SECONDS = 30           # last_seen is written at most this often (a write per click would contend)

# Why a sign-in ended, as the sign-in page says it to the person in front of it.
ENDED = {
    "sign_out": "You signed out (in this or another tab). Sign in again to go on.",
    "idle": "Signed out after {idle} minutes without activity. Sign in again to go on.",
    "expired": "Your sign-in reached the clinic's limit of {hours} hours. Sign in again to go on.",
    "disabled": "This account has been disabled by an administrator, so it was signed out.",
    "password_reset": "The password of this account was changed, so it was signed out. Sign in with the new one.",
    "checkin": "The patient check-in was opened in this browser, so the sign-in in it ended. Sign in again to go on.",
}


@dataclass(frozen=True)
class Check:
    """The state of a sign-in at this run: the user it belongs to, or why it has ended."""
    username: str | None = None
    role: str | None = None
    ended_why: str | None = None


def signin_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def start(con: duckdb.DuckDBPyConnection, cfg: dict, username: str, role: str,
          now: dt.datetime | None = None) -> str:
    """A new sign-in for a user who has just given the right password; returns the cookie value."""
    now = now or dt.datetime.now()
    cookie = secrets.token_urlsafe(32)
    with db.transaction(con) as cur:
        cur.execute("INSERT INTO signins VALUES ($id, $u, $r, $now, $now, $until, NULL, NULL)",
                    {"id": signin_id(cookie), "u": username, "r": role, "now": now,
                     "until": now + dt.timedelta(hours=cfg["access"]["signin_hours"])})
    return cookie


def check(con: duckdb.DuckDBPyConnection, cfg: dict, sid: str, seen_here: float | None = None,
          now: dt.datetime | None = None, touch: bool = True) -> Check:
    """Whether the sign-in `sid` may go on at this run; ends it when its time is up.

    `seen_here` is this tab's last click (epoch seconds): last_seen in the store lags by up to TOUCH_SECONDS."""
    now = now or dt.datetime.now()
    row = db.record_row(con, """SELECT s.username, s.last_seen, s.expires_at, s.ended_why, u.role, u.disabled
                          FROM signins s LEFT JOIN users u USING (username) WHERE s.signin_id = $id""", {"id": sid})
    if row is None:
        return Check(ended_why="unknown")
    username, last_seen, expires_at, ended_why, role, disabled = row
    if ended_why:
        return Check(ended_why=ended_why)
    last = max(last_seen, dt.datetime.fromtimestamp(seen_here)) if seen_here else last_seen
    why = ("disabled" if role is None or disabled else
           "expired" if now >= expires_at else
           "idle" if (now - last).total_seconds() > cfg["access"]["idle_minutes"] * 60 else None)
    if why:
        end(con, sid, why, now=now)
        return Check(ended_why=why)
    if touch and (now - last_seen).total_seconds() >= TOUCH_SECONDS:     # a look by the idle timer is no click
        with db.transaction(con) as cur:
            cur.execute("UPDATE signins SET last_seen = $now WHERE signin_id = $id", {"now": now, "id": sid})
    return Check(username=username, role=role)


def end(con: duckdb.DuckDBPyConnection, sid: str, why: str, now: dt.datetime | None = None) -> None:
    """End one sign-in: every tab holding its cookie is signed out at its next run (the tab audits it)."""
    with db.transaction(con) as cur:
        cur.execute("UPDATE signins SET ended_at = $now, ended_why = $why WHERE signin_id = $id "
                    "AND ended_why IS NULL", {"now": now or dt.datetime.now(), "why": why, "id": sid})


def end_all(cur: duckdb.DuckDBPyConnection, username: str, why: str, keep: str | None = None,
            now: dt.datetime | None = None) -> int:
    """End every open sign-in of an account but `keep`, inside the caller's transaction (disabling, a reset)."""
    rows = cur.execute("UPDATE signins SET ended_at = $now, ended_why = $why WHERE username = $u "
                       "AND ended_why IS NULL AND signin_id IS DISTINCT FROM $keep RETURNING 1",
                       {"now": now or dt.datetime.now(), "why": why, "u": username, "keep": keep}).fetchall()
    return len(rows)


def message(why: str, cfg: dict) -> str | None:
    text = ENDED.get(why)
    return text.format(idle=cfg["access"]["idle_minutes"], hours=cfg["access"]["signin_hours"]) if text else None


# ---------------------------------------------------------------- one-time tickets (this process only)
# The websocket that signed in cannot set a cookie; the browser is sent to kdash/ui/web.py's route with a ticket,
# redeemed once within TICKET_SECONDS for the cookie value. Streamlit's tabs stick to one server process, and so
# does the redirect that follows a sign-in.

_tickets: dict[str, tuple[str, float, str]] = {}     # ticket → (cookie, until, the browser it was made for)
_fresh: set[str] = set()            # sign-ins whose first tab is about to load: not a "resumed" sign-in
_lock = threading.Lock()


def ticket_for(cookie: str, browser: str) -> str:
    """A one-time ticket for the sign-in's cookie, good only in the browser that signed in (its kdash_browser
    cookie, set by kdash/ui/web.py before the sign-in form was drawn): a ticket sent to someone else's browser (a
    login CSRF: the victim signed in as the attacker) is refused there."""
    if not browser:
        raise ValueError("a ticket is made for one browser")
    ticket = secrets.token_urlsafe(24)
    with _lock:
        _prune()
        _tickets[ticket] = (cookie, time.monotonic() + TICKET_SECONDS, browser)
    return ticket


def redeem(ticket: str | None, browser: str | None) -> str | None:
    """The cookie value a ticket stands for, once, in the browser it was made for; None for an unknown, used or stale
    ticket, or another browser (the ticket is spent either way)."""
    with _lock:
        _prune()
        cookie, _, meant = _tickets.pop(ticket or "", (None, 0.0, None))
        if not cookie or not browser or not secrets.compare_digest(meant, browser):
            return None
        _fresh.add(signin_id(cookie))
        return cookie


def first_load(sid: str) -> bool:
    """True once, for the tab that the sign-in's own redirect loads."""
    with _lock:
        if sid in _fresh:
            _fresh.discard(sid)
            return True
        return False


def _prune() -> None:
    now = time.monotonic()
    for t in [t for t, (_, until, _) in _tickets.items() if until < now]:
        del _tickets[t]
