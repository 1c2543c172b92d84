"""The start-up warm-up computes exactly what the pages ask for first, so the first person of the day finds it."""

import pytest

from kdash import access
from kdash.ui import cache, refresh, warmup
from tests.app.session import signed_in


class Recorder:
    """cache._cached, noting each (function, parameters) asked of it."""

    def __init__(self, cached):
        self.cached, self.keys, self.generations = cached, set(), []

    def __call__(self, path, func, params, generation=0):
        self.keys.add((func, params))
        self.generations.append((func, generation))
        return self.cached(path, func, params, generation)

    def clear(self, *args):
        return self.cached.clear(*args)


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder(cache._cached)
    monkeypatch.setattr(cache, "_cached", rec)
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
    assert missing == {}, repr(missing)
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
    refresh.WAKE.clear()
    cache.clear_caches()
    assert refresh.WAKE.is_set()
    refresh.WAKE.clear()


def test_the_ready_route_answers_503_until_the_first_warm_up_is_over():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from starlette.requests import Request
    from kdash.ui import web
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


# ------------------------------------------------------------------ after a write: fresh, or previous while refreshed

def test_after_a_write_a_patient_level_read_is_computed_anew(app_env, recorder, monkeypatch):
    monkeypatch.setattr(refresh, "running", lambda: True)
    cache.compute(app_env, "roster.clinicians", ())
    cache.clear_caches()
    cache.read(app_env, "roster.clinicians", ())
    assert recorder.generations[-1] == ("roster.clinicians", cache.generation())


def test_after_a_write_a_clinic_wide_read_shows_the_previous_figures_while_they_are_refreshed(app_env, recorder,
                                                                                            monkeypatch):
    asked = []
    monkeypatch.setattr(refresh, "running", lambda: True)
    monkeypatch.setattr(refresh, "refresh_soon", lambda *key: asked.append(key))
    key = (("today", warmup.dt.date.today()), ("weeks", 12))
    before = cache.compute(app_env, "clinic.sessions_per_week", key)
    g = cache.generation()
    cache.clear_caches()
    assert cache.read(app_env, "clinic.sessions_per_week", key).equals(before)
    assert recorder.generations[-1] == ("clinic.sessions_per_week", g)            # the previous figures...
    assert asked == [(app_env, "clinic.sessions_per_week", key)]                    # ...and a refresh asked for
    cache.compute(app_env, "clinic.sessions_per_week", key)                             # what the refresher does
    cache.read(app_env, "clinic.sessions_per_week", key)
    assert recorder.generations[-1] == ("clinic.sessions_per_week", g + 1) and len(asked) == 1


def test_previous_figures_are_shown_for_a_limited_time_only(app_env, recorder, monkeypatch):
    monkeypatch.setattr(refresh, "running", lambda: True)
    monkeypatch.setattr(refresh, "refresh_soon", lambda *key: None)
    key = (("today", warmup.dt.date.today()), ("weeks", 12))
    cache.compute(app_env, "clinic.sessions_per_week", key)
    cache.clear_caches()
    cache._writes["at"][cache.generation()] -= cache.STALE_SECONDS + 1                          # the write was long ago
    cache.read(app_env, "clinic.sessions_per_week", key)
    assert recorder.generations[-1] == ("clinic.sessions_per_week", cache.generation())


def test_without_the_warm_up_thread_every_read_is_current(app_env, recorder):
    """AppTest and the CLI run no background refresh: a clinic-wide read after a write is computed at once."""
    key = (("today", warmup.dt.date.today()), ("weeks", 12))
    cache.compute(app_env, "clinic.sessions_per_week", key)
    cache.clear_caches()
    cache.read(app_env, "clinic.sessions_per_week", key)
    assert recorder.generations[-1] == ("clinic.sessions_per_week", cache.generation())
