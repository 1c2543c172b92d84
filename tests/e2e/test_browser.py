"""The real app in Chromium: it opens on the demo clinic, every page renders, nothing leaves the machine."""

import pytest

from tests.e2e.browser import wait_for_app

PAGES = ["", "roster", "patient", "eligibility", "record", "outcomes", "side-effects", "throughput",
         "conference", "import", "audit"]


def test_home_opens_with_the_demo_banner_and_figures(page, server):
    page.goto(server)
    wait_for_app(page)
    assert page.get_by_text("Synthetic demo data").is_visible()
    assert page.get_by_role("heading", name="Clinic at a glance").is_visible()
    assert page.locator("[data-testid='stMetric']").count() == 4
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == []
    assert page.external_requests == [], "no request may leave the machine"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_an_error(page, server, path):
    page.goto(f"{server}/{path}")
    wait_for_app(page)
    assert page.get_by_text("Synthetic demo data").is_visible()
    assert page.locator("h1").count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == []
    assert page.external_requests == []


def test_a_deep_link_as_the_first_request_runs_inside_the_app_frame(browser, tmp_path):
    """A fresh server whose first request is a deep link still shows the app's navigation and banner."""
    from kdash import demo
    from tests.e2e.browser import streamlit_server
    store = str(tmp_path / "fresh.duckdb")     # its own store: the session's server holds the shared one
    demo.build(store, patients=60)
    with streamlit_server(store) as url:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(f"{url}/patient?patient_id=P000001")
        wait_for_app(pg)
        assert pg.get_by_text("Synthetic demo data").is_visible()
        assert pg.get_by_role("heading", name="Patient progress").is_visible()
        assert pg.locator("[data-testid='stSidebarNav']").get_by_text("Clinic at a glance").count() == 1
        context.close()
