"""The plain-HTTP routes the app serves beside Streamlit's own (app.py mounts them with st.App).

A websocket cannot set a cookie, so after a sign-in the browser is sent here with a one-time ticket and comes back
with the sign-in's cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure behind
HTTPS. Signing out comes here to drop it. Both answer with a redirect to a path of this app only.
"""

from __future__ import annotations

from urllib.parse import urlencode

from kdash.access import signins

SESSION_PATH = "_kdash/session"
SIGN_OUT_PATH = "_kdash/sign_out"
READY_PATH = "_kdash/ready"          # 200 once the start-up warm-up is over (kdash/ui/warmup.py), 503 before


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ALLOW_DEMO_ON_NETWORK = "KDASH_DEMO_ON_NETWORK"


def stay_offline() -> None:
    """Streamlit checks a cross-origin websocket's Origin against this machine's addresses, and looks its external
    address up on the internet to do so (an HTTP request to checkip.amazonaws.com, issue 31). A clinic's server
    never asks the internet anything: a same-origin connection is allowed as before (the reverse proxy's host), a
    cross-origin one only from localhost or server.corsAllowedOrigins."""
    from streamlit import net_util
    net_util.get_external_ip = lambda: None
    net_util.get_internal_ip = lambda: None


def listen_address() -> str:
    """The address Streamlit listens on ('' or None means every interface)."""
    from streamlit import config
    return (config.get_option("server.address") or "").strip()


def demo_exposed(is_demo: bool) -> str | None:
    """Why a demo store must not be served here, or None: its accounts' password is published, so beyond this
    machine it is served only when KDASH_DEMO_ON_NETWORK=1 says so on purpose."""
    import os
    address = listen_address()
    if not is_demo or address in LOOPBACK or os.environ.get(ALLOW_DEMO_ON_NETWORK) == "1":
        return None
    where = address or "every network interface"
    return (f"this is a demo store, whose accounts' password is published, and the server listens on {where}. "
            f"Serve it on 127.0.0.1 (--server.address 127.0.0.1), or set {ALLOW_DEMO_ON_NETWORK}=1 to expose it "
            "on purpose")


def refuse_public_demo() -> None:
    """At server start: stop when the store is a demo store and the server would listen beyond this machine."""
    import sys
    from pathlib import Path

    from kdash import settings
    from kdash.store import db
    path = settings.store_path()
    if not Path(path).exists() or demo_exposed(True) is None:
        return
    try:
        con = db.connect(path, read_only=True)
    except db.StoreError:
        return            # the page says what is wrong with the store
    try:
        reason = demo_exposed(db.is_demo(con))
    finally:
        con.close()
    if reason:
        sys.exit(f"kdash: not starting: {reason}.")


BROWSER_COOKIE = "kdash_browser"


class BrowserNonce:
    """ASGI middleware: every browser gets a random HttpOnly, SameSite=Strict cookie on its first page load, so a
    sign-in's ticket can be bound to the browser that signed in (signins.ticket_for) before the form posts."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _has_cookie(scope, BROWSER_COOKIE):
            return await self.app(scope, receive, send)
        import secrets
        from http.cookies import SimpleCookie
        morsel = SimpleCookie()
        morsel[BROWSER_COOKIE] = secrets.token_urlsafe(24)
        m = morsel[BROWSER_COOKIE]
        m["path"], m["httponly"], m["samesite"] = base_path(), True, "Strict"
        if scope.get("scheme") == "https" or _header(scope, "x-forwarded-proto").lower() == "https":
            m["secure"] = True
        header = m.OutputString().encode("latin-1")

        async def with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", header)]}
            await send(message)
        return await self.app(scope, receive, with_cookie)


def _header(scope, name: str) -> str:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.decode("latin-1").lower() == name), "")


def _has_cookie(scope, name: str) -> bool:
    from http.cookies import SimpleCookie
    jar = SimpleCookie()
    try:
        jar.load(_header(scope, "cookie"))
    except Exception:            # a malformed Cookie header: treated as none
        return False
    return name in jar


def base_path() -> str:
    """Streamlit's server.baseUrlPath as '/x/' (or '/')."""
    from streamlit import config
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def session_url(ticket: str, next_path: str) -> str:
    return f"{base_path()}{SESSION_PATH}?{urlencode({'ticket': ticket, 'next': next_path})}"


def sign_out_url() -> str:
    return f"{base_path()}{SIGN_OUT_PATH}"


def safe_next(next_path: str | None) -> str:
    """A path inside this app to return to; anything else (another host, a scheme, '//x') goes to the app's root."""
    base = base_path()
    p = next_path or ""
    if not p.startswith(base) or p.startswith("//") or "\\" in p or any(ord(c) < 32 for c in p):
        return base
    return p


def routes() -> list:
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    def _redirect(request, to: str) -> RedirectResponse:
        r = RedirectResponse(to, status_code=303)
        r.headers["Cache-Control"] = "no-store"
        return r

    async def session(request):
        cookie = signins.redeem(request.query_params.get("ticket"), request.cookies.get(BROWSER_COOKIE))
        r = _redirect(request, safe_next(request.query_params.get("next")))
        if cookie:
            from kdash import settings
            hours = settings.load(settings.store_path())["access"]["signin_hours"]
            r.set_cookie(signins.COOKIE, cookie, max_age=int(hours * 3600), path=base_path(), httponly=True,
                         samesite="strict", secure=_https(request))
        return r

    async def sign_out(request):
        r = _redirect(request, base_path())
        r.delete_cookie(signins.COOKIE, path=base_path(), httponly=True, samesite="strict", secure=_https(request))
        return r

    async def ready(request):
        from starlette.responses import PlainTextResponse

        from kdash.ui import warmup
        done = warmup.DONE.is_set()
        return PlainTextResponse("ready" if done else "warming up", status_code=200 if done else 503)

    return [Route(base_path() + SESSION_PATH, session, methods=["GET"]),
            Route(base_path() + SIGN_OUT_PATH, sign_out, methods=["GET"]),
            Route(base_path() + READY_PATH, ready, methods=["GET"])]


def _https(request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
