"""The two browser-side benchmarks still work (a short run on a small store; their figures are not checked here,
only that every click was answered with the right page and no error)."""

import pytest

from kdash.bench import browser as bench_browser
from kdash import demo
from kdash.access.users import DEMO_PASSWORD
from tests.e2e.browser import chromium_path


@pytest.fixture
def small_store(tmp_path):
    if not chromium_path():
        pytest.skip("chromium is not installed")
    path = str(tmp_path / "bench.duckdb")
    demo.build(path, patients=60, seed=3)
    return path


def run_alone(call: str, **kwargs) -> dict:
    """A benchmark run in a fresh interpreter: it drives its own Playwright or asyncio loop, which cannot start while
    this process's session browser (the other e2e tests') runs its event loop."""
    import json
    import subprocess
    import sys
    from tests.conftest import ROOT
    code = (f"import json, sys; from kdash.bench import browser as bench_browser, users as bench_users; "
            f"print(json.dumps({call}(**json.loads(sys.argv[1]))))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_browser_times_every_step_of_a_role(small_store, tmp_path):
    result = run_alone("bench_browser.run", db_path=small_store, runs=1, roles=["admin", "presenter"],
                       patient_id="P000001", password=DEMO_PASSWORD, log_dir=str(tmp_path))
    pages = {(r["role"], r["page"]): r for r in result["pages"]}
    assert set(pages) == {("admin", s.name) for s in bench_browser.steps_for("admin", "P000001", "x")} | \
        {("presenter", s.name) for s in bench_browser.steps_for("presenter", "P000001", "x")}
    assert pages[("admin", "audit")]["first_median_s"] > 0 and pages[("admin", "users")]["repeat_median_s"] > 0
    assert pages[("admin", "users")]["first_median_s"] is None          # the landing page: its sign-in's
    assert result["first_sign_in_s"]["median"] > 0


def test_bench_users_answers_every_click_with_its_page(small_store, tmp_path):
    result = run_alone("bench_users.run", db_path=small_store, users=4, seconds=8, patient_id="P000001",
                       password=DEMO_PASSWORD, log_dir=str(tmp_path), think=[0.2, 0.4], record=False, timeout=60)
    assert result["errors"] == 0, result["error_examples"]
    assert result["clicks"] >= 8 and result["server"]["rss_max_mb"] > 0
    assert {"clinician", "manager", "presenter"} <= set(result["roles"])
