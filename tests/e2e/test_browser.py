"""The real app in Chromium: it opens on the demo clinic, every page renders, nothing leaves the machine."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import wait_for_app

PAGES = ["", "roster", "patient", "eligibility", "record_session", "outcomes", "side_effects", "throughput",
         "conference", "import_data", "audit"]


def test_home_opens_with_the_demo_banner_and_figures(page, server):
    page.goto(server)
    wait_for_app(page)
    expect(page.get_by_text("Synthetic demo data")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Clinic at a glance")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stMetric']")).to_have_count(4, timeout=30_000)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)      # plotly draws after the script has run
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == []
    assert page.external_requests == [], "no request may leave the machine"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_an_error(page, server, path):
    page.goto(f"{server}/{path}")
    wait_for_app(page)
    expect(page.get_by_text("Synthetic demo data")).to_be_visible(timeout=30_000)
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
        expect(pg.get_by_text("Synthetic demo data")).to_be_visible(timeout=30_000)
        expect(pg.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)
        expect(pg.locator("[data-testid='stSidebarNav']").get_by_text("Clinic at a glance")).to_have_count(1, timeout=30_000)
        context.close()


def test_patient_page_draws_its_charts_and_the_time_axis_switches(page, server, e2e_patient):
    page.goto(f"{server}/patient?patient_id={e2e_patient}")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Mood scores")).to_be_visible(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=30_000)
    page.get_by_text("By date", exact=True).click()
    expect(page.locator(".js-plotly-plot").first.get_by_text("Date", exact=True)).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == [] and page.external_requests == []


def test_roster_links_point_at_patient_pages(page, server):
    page.goto(f"{server}/roster")
    wait_for_app(page)
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(1, timeout=30_000)
    expect(page.get_by_role("heading", name="Patients")).to_be_visible(timeout=30_000)
    page.get_by_label("Search by name, ID or MRN").fill("P000010")
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 patients match")).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.parametrize("path", ["record_session?patient_id=P000001", "side_effects", "eligibility?patient_id=P000001"])
def test_first_request_deep_links_show_no_page_not_found(browser, tmp_path, path):
    """A fresh server's first request to any page opens it without Streamlit's 'page not found' dialog."""
    from kdash import demo
    from tests.e2e.browser import streamlit_server
    store = str(tmp_path / "fresh.duckdb")
    demo.build(store, patients=40)
    with streamlit_server(store) as url:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(f"{url}/{path}")
        wait_for_app(pg)
        pg.wait_for_timeout(500)
        assert pg.get_by_text("Page not found").count() == 0
        assert pg.get_by_role("dialog").count() == 0
        context.close()


def test_conference_presents_a_case_and_its_downloads_work(page, server, e2e_case, tmp_path):
    """What only a browser shows: the large-type case, drawn figures, and files that download on click."""
    from urllib.parse import quote
    from tests.e2e.conftest import ARTIFACTS
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/conference?case={quote(e2e_case)}")
    wait_for_app(page)
    expect(page.get_by_text(e2e_case, exact=True)).to_be_visible(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "conference.png"), full_page=False)
    with page.expect_download(timeout=60_000) as png:
        page.get_by_role("button", name="PNG").first.click()
    assert png.value.suggested_filename.endswith(".png")
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download(timeout=120_000) as pdf:
        page.get_by_role("button", name="PDF handout").click()
    assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == [] and page.external_requests == []
