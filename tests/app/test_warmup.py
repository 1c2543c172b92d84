"""The start-up warm-up computes exactly what the pages ask for first, so the first person of the day finds it."""

import pytest

from kdash import access, ui, warmup
from tests.app.session import signed_in


class Recorder:
    """ui._cached, noting each (function, parameters) asked of it."""

    def __init__(self, cached):
        self.cached, self.keys = cached, set()

    def __call__(self, path, func, params):
        self.keys.add((func, params))
        return self.cached(path, func, params)

    def clear(self, *args):
        return self.cached.clear(*args)


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder(ui._cached)
    monkeypatch.setattr(ui, "_cached", rec)
    return rec


def opening_keys(recorder, role: str, page: str) -> set:
    at = signed_in(role, name=role).run()          # a demo account: its own worklist is warmed too
    recorder.keys.clear()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    return set(recorder.keys)


def test_every_page_opens_on_what_the_warm_up_computed(app_env, recorder):
    count, _ = warmup.warm(app_env)
    warmed = set(recorder.keys)
    assert count == len(warmed)
    missing = {}
    for role in access.ROLES:
        for page in access.pages_for(role):
            asked = opening_keys(recorder, role, page)
            if asked - warmed:
                missing[f"{role} {page}"] = asked - warmed
    assert missing == {}
    assert ("outcomes.page_view" in {f for f, _ in warmed}) and ("worklist.items" in {f for f, _ in warmed})


def test_a_page_filtered_away_from_its_default_is_not_what_was_warmed(app_env, recorder):
    """The check above can fail: a changed filter asks for a key the warm-up did not compute."""
    warmup.warm(app_env)
    warmed = set(recorder.keys)
    at = signed_in("manager", name="manager").run().switch_page("pages/outcomes.py").run()
    recorder.keys.clear()
    next(s for s in at.selectbox if s.label == "Route").set_value("esketamine").run()
    assert recorder.keys - warmed


def test_a_write_wakes_the_warm_up(app_env):
    warmup._WAKE.clear()
    ui.clear_caches()
    assert warmup._WAKE.is_set()
    warmup._WAKE.clear()


def test_the_ready_route_answers_503_until_the_first_warm_up_is_over():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from starlette.requests import Request
    from kdash import web
    route = next(r for r in web.routes() if r.path.endswith(web.READY_PATH))
    scope = {"type": "http", "method": "GET", "path": route.path, "query_string": b"", "headers": [],
             "scheme": "http", "server": ("127.0.0.1", 8501)}

    def call():
        with ThreadPoolExecutor(max_workers=1) as pool:   # Playwright's loop may run in this thread
            return pool.submit(asyncio.run, route.endpoint(Request(scope))).result().status_code
    try:
        warmup.DONE.clear()
        assert call() == 503
        warmup.DONE.set()
        assert call() == 200
    finally:
        warmup.DONE.set()
