"""Sign-ins that outlive a tab (kdash/access/signins.py) and the routes that set and drop their cookie (kdash/ui/web.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from kdash import settings
from kdash.access import signins, users
from kdash.store import db
from kdash.ui import web

T0 = dt.datetime(2026, 11, 2, 9, 0)


@pytest.fixture
def con(tmp_path):
    c = db.connect(str(tmp_path / "s.duckdb"))
    cfg = settings.load()
    users.add(c, cfg, "dr.a", "clinician", "a long enough password")
    users.add(c, cfg, "adm", "admin", "a long enough password")
    yield c
    c.close()


@pytest.fixture
def cfg():
    return settings.load()


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_a_sign_in_is_found_by_its_cookie_and_the_store_keeps_only_its_hash(con, cfg):
    cookie = signins.start(con, cfg, "dr.a", "clinician", now=T0)
    stored = con.execute("SELECT signin_id FROM signins").fetchall()
    assert stored == [(signins.signin_id(cookie),)] and cookie not in stored[0][0]
    assert signins.check(con, cfg, signins.signin_id(cookie), now=at(1)) == signins.Check("dr.a", "clinician")
    assert signins.check(con, cfg, signins.signin_id("a guessed cookie"), now=at(1)).ended_why == "unknown"


def test_idle_time_counts_from_the_last_click_of_any_tab(con, cfg):
    idle = cfg["access"]["idle_minutes"]
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    assert signins.check(con, cfg, sid, now=at(idle - 1)).username == "dr.a"        # touches last_seen
    assert signins.check(con, cfg, sid, now=at(2 * idle - 2)).username == "dr.a"    # idle - 1 after that
    assert signins.check(con, cfg, sid, now=at(3 * idle)).ended_why == "idle"
    assert signins.check(con, cfg, sid, now=at(3 * idle + 1)).ended_why == "idle"   # ended stays ended


def test_a_tabs_own_last_click_keeps_it_alive_between_writes(con, cfg):
    idle = cfg["access"]["idle_minutes"]
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    seen_here = at(idle - 0.2).timestamp()       # a click not yet written (writes are at most every 30 s)
    assert signins.check(con, cfg, sid, seen_here=seen_here, now=at(idle + 0.5)).username == "dr.a"


def test_last_seen_is_written_at_most_every_touch_interval(con, cfg):
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    signins.check(con, cfg, sid, now=T0 + dt.timedelta(seconds=signins.TOUCH_SECONDS - 1))
    assert con.execute("SELECT last_seen FROM signins").fetchone()[0] == T0
    signins.check(con, cfg, sid, now=T0 + dt.timedelta(seconds=signins.TOUCH_SECONDS))
    assert con.execute("SELECT last_seen FROM signins").fetchone()[0] == T0 + dt.timedelta(
        seconds=signins.TOUCH_SECONDS)


def test_a_sign_in_expires_however_active(con, cfg):
    hours = cfg["access"]["signin_hours"]
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    for m in range(10, hours * 60, 10):
        assert signins.check(con, cfg, sid, now=at(m)).username == "dr.a"
    assert signins.check(con, cfg, sid, now=at(hours * 60)).ended_why == "expired"
    assert "12 hours" in signins.message("expired", cfg)


def test_disabling_or_resetting_ends_every_sign_in_of_that_account_only(con, cfg):
    a1 = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    a2 = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    admin = signins.signin_id(signins.start(con, cfg, "adm", "admin", now=T0))
    users.set_disabled(con, "dr.a", True, by="adm")
    assert [signins.check(con, cfg, s, now=at(1)).ended_why for s in (a1, a2, admin)] == ["disabled", "disabled", None]
    users.set_disabled(con, "dr.a", False, by="adm")
    assert signins.check(con, cfg, a1, now=at(2)).ended_why == "disabled"       # enabling does not revive it
    b = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=at(3)))
    own = signins.signin_id(signins.start(con, cfg, "adm", "admin", now=at(3)))
    users.reset_password(con, cfg, "dr.a", "another long password", by="adm")
    users.reset_password(con, cfg, "adm", "another long password", by="adm", keep_signin=own)
    assert [signins.check(con, cfg, s, now=at(4)).ended_why for s in (b, admin, own)] == [
        "password_reset", "password_reset", None]


def test_a_sign_in_of_an_account_disabled_in_the_store_directly_ends_too(con, cfg):
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    con.execute("UPDATE users SET disabled = true WHERE username = 'dr.a'")
    assert signins.check(con, cfg, sid, now=at(1)).ended_why == "disabled"
    con.execute("DELETE FROM users WHERE username = 'adm'")
    gone = signins.signin_id(signins.start(con, cfg, "adm", "admin", now=T0))
    assert signins.check(con, cfg, gone, now=at(1)).ended_why == "disabled"


def test_the_role_is_the_accounts_current_one(con, cfg):
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    con.execute("UPDATE users SET role = 'presenter' WHERE username = 'dr.a'")
    assert signins.check(con, cfg, sid, now=at(1)).role == "presenter"


def test_sign_out_ends_it_for_every_tab(con, cfg):
    sid = signins.signin_id(signins.start(con, cfg, "dr.a", "clinician", now=T0))
    signins.end(con, sid, "sign_out", now=at(1))
    assert signins.check(con, cfg, sid, now=at(1)).ended_why == "sign_out"
    assert con.execute("SELECT ended_at, ended_why FROM signins").fetchone() == (at(1), "sign_out")


def test_a_ticket_is_redeemed_once_and_not_after_its_time(monkeypatch):
    t = signins.ticket_for("cookie-1", "browser-a")
    assert signins.redeem(t, "browser-a") == "cookie-1" and signins.redeem(t, "browser-a") is None
    assert signins.first_load(signins.signin_id("cookie-1")) and not signins.first_load(signins.signin_id("cookie-1"))
    assert signins.redeem(None, "browser-a") is None and signins.redeem("made up", "browser-a") is None
    clock = [1000.0]
    monkeypatch.setattr(signins.time, "monotonic", lambda: clock[0])
    late = signins.ticket_for("cookie-2", "browser-a")
    clock[0] += signins.TICKET_SECONDS + 1
    assert signins.redeem(late, "browser-a") is None


def test_a_ticket_is_good_only_in_the_browser_that_signed_in():
    """Issue 31: login CSRF. An attacker who signs in and sends the ticket's link to a clinician would have signed
    the clinician's browser in as the attacker; the ticket is now bound to the signing-in browser's nonce cookie."""
    stolen = signins.ticket_for("attackers-cookie", "attackers-browser")
    assert signins.redeem(stolen, "victims-browser") is None
    assert signins.redeem(stolen, "attackers-browser") is None           # spent by the refused try
    assert signins.redeem(signins.ticket_for("c", "b"), None) is None    # no nonce: nothing
    with pytest.raises(ValueError):
        signins.ticket_for("c", "")


@pytest.mark.parametrize("asked, sent_to", [
    ("/patient?patient_id=P1", "/patient?patient_id=P1"), ("/", "/"), (None, "/"), ("", "/"),
    ("https://elsewhere.example/", "/"), ("//elsewhere.example/x", "/"), ("/\\elsewhere.example", "/"),
    ("javascript:alert(1)", "/"), ("/roster\r\nSet-Cookie: x=1", "/")])
def test_the_routes_only_send_the_browser_to_this_app(asked, sent_to):
    assert web.safe_next(asked) == sent_to


def _call(route_index: int, query: str, scheme: str = "http", browser: str | None = "this-browser"):
    from starlette.requests import Request
    route = web.routes()[route_index]
    headers = [(b"cookie", f"{web.BROWSER_COOKIE}={browser}".encode())] if browser else []
    scope = {"type": "http", "method": "GET", "path": route.path, "query_string": query.encode(),
             "headers": headers, "scheme": scheme, "server": ("127.0.0.1", 8501)}
    # in a thread of its own: the browser suites' Playwright keeps an event loop running in this one
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, route.endpoint(Request(scope))).result()


def test_the_session_route_sets_an_httponly_strict_cookie_for_a_good_ticket_only(monkeypatch, tmp_path):
    from urllib.parse import quote
    monkeypatch.setenv("KDASH_DB", str(tmp_path / "absent.duckdb"))
    ticket = signins.ticket_for("the-cookie", "this-browser")
    r = _call(0, f"ticket={ticket}&next={quote('/patient?patient_id=P 1')}")
    assert r.status_code == 303 and r.headers["location"] == "/patient?patient_id=P%201"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("kdash_session=the-cookie;") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "Secure" not in cookie and "Max-Age=43200" in cookie
    assert r.headers["cache-control"] == "no-store"
    again = _call(0, f"ticket={ticket}&next=/")
    assert again.status_code == 303 and "set-cookie" not in again.headers
    assert "Secure" in _call(0, f"ticket={signins.ticket_for('c2', 'this-browser')}&next=/",
                             scheme="https").headers["set-cookie"]
    other = _call(0, f"ticket={signins.ticket_for('c3', 'this-browser')}&next=/", browser="another-browser")
    assert other.status_code == 303 and "set-cookie" not in other.headers          # a ticket in another browser


def test_every_first_page_load_gets_the_browser_nonce_cookie():
    import asyncio
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def collect(message):
        sent.append(message)
    middleware = web.BrowserNonce(app)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, middleware({"type": "http", "headers": [], "scheme": "http"}, None, collect)).result()
        first = dict(sent[0]["headers"])[b"set-cookie"].decode()
        assert first.startswith(f"{web.BROWSER_COOKIE}=") and "HttpOnly" in first and "SameSite=Strict" in first
        sent.clear()
        pool.submit(asyncio.run, middleware({"type": "http", "headers": [(b"cookie", b"kdash_browser=x")],
                                             "scheme": "http"}, None, collect)).result()
        assert b"set-cookie" not in dict(sent[0]["headers"])


def test_the_sign_out_route_drops_the_cookie():
    r = _call(1, "")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert r.headers["set-cookie"].startswith('kdash_session="";') and "Max-Age=0" in r.headers["set-cookie"]
