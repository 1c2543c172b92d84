"""Shared fixtures: demo stores built once per test run, in a temporary folder."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdash import demo  # noqa: E402

TODAY = dt.date.today()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> str:
    """The clinic a new user sees: 400 patients over two years, as of today."""
    path = str(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    demo.build(path, patients=400, seed=7, as_of=TODAY)
    return path


@pytest.fixture(scope="session")
def calibration_store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("calibration") / "calibration.duckdb")
    demo.build(path, patients=2000, seed=11, as_of=TODAY)
    return path


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run: Playwright's sync API cannot start a second instance in the same
    thread while the first is open, so every suite that drives a browser shares this one."""
    from tests.e2e.browser import launched_chromium
    with launched_chromium() as b:
        yield b


@pytest.fixture(scope="session")
def chromium(browser):
    return browser


def use_store(path: str, monkeypatch) -> str:
    """Point the app (AppTest, from the project folder) at this store, from empty Streamlit caches."""
    import streamlit as st
    monkeypatch.setenv("KDASH_DB", path)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


@pytest.fixture
def app_env(demo_store, monkeypatch):
    """Point the app at the demo store and start from empty Streamlit caches."""
    import streamlit as st
    yield use_store(demo_store, monkeypatch)
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def writable_app_store(tmp_path, monkeypatch):
    """A store of the test's own, for tests that write through the app; returns a builder (patients, seed)."""
    import streamlit as st

    def build(patients: int = 30, seed: int = 4) -> str:
        path = str(tmp_path / f"app-{patients}-{seed}.duckdb")
        demo.build(path, patients=patients, seed=seed, as_of=TODAY)
        return use_store(path, monkeypatch)
    yield build
    st.cache_resource.clear()


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the run (initdb in a temp folder, 127.0.0.1, a free port), stopped at
    the end. README's test command installs Debian's postgresql; without it these tests fail, they never skip."""
    from kdash.store.pg_cluster import Cluster
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def record_url(pg_cluster, monkeypatch):
    """A new, empty PostgreSQL database of the test's own; its URL (the password in PGPASSWORD, as a clinic gives
    it). Dropped afterwards, whoever still holds a connection."""
    import gc
    import uuid
    name = "t" + uuid.uuid4().hex[:12]
    pg_cluster.psql(f"CREATE DATABASE {name} OWNER kdash")
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    url = pg_cluster.url.rsplit("/", 1)[0] + "/" + name
    yield url
    gc.collect()                     # models no longer referenced close their replicas' connections
    pg_cluster.psql(f"DROP DATABASE {name} WITH (FORCE)")
