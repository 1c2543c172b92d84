"""The real app in Chromium: it opens on the demo clinic, every page renders, nothing leaves the machine."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import click_first_row, open_as, sign_in, wait_for_app

PAGES = ["", "roster", "patient", "eligibility", "record_session", "outcomes", "side_effects", "throughput",
         "conference", "import_data", "audit", "users", "flag_rules"]


def role_for(path: str) -> str:
    from kdash import access
    return next(r for r in access.ROLES if access.may_open(r, path.split("?")[0] or "home"))


def test_home_opens_with_the_demo_banner_and_figures(page, server):
    open_as(page, server, "manager")
    expect(page.get_by_text("Synthetic demo data")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Clinic at a glance")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stMetric']")).to_have_count(4, timeout=30_000)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)      # plotly draws after the script has run
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == []
    assert page.external_requests == [], "no request may leave the machine"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_an_error(page, server, path):
    open_as(page, f"{server}/{path}", role_for(path))
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
        sign_in(pg, "clinician")
        expect(pg.get_by_text("Synthetic demo data")).to_be_visible(timeout=30_000)
        expect(pg.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)
        expect(pg.locator("[data-testid='stSidebar']").get_by_role("link", name="Clinic at a glance")).to_have_count(
            1, timeout=30_000)
        context.close()


def test_patient_page_draws_its_charts_and_the_time_axis_switches(page, server, e2e_patient):
    open_as(page, f"{server}/patient?patient_id={e2e_patient}")
    expect(page.get_by_role("heading", name="Mood scores")).to_be_visible(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=30_000)
    page.get_by_role("tab", name="Dissociation and sedation").click()      # drawn when its tab opens
    expect(page.get_by_role("tab", name="Dissociation and sedation")).to_have_attribute("aria-selected", "true")
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => "
                           "/Dissociation \\(peak\\) and sedation \\(deepest\\) per session/.test(t.textContent))", timeout=30_000)
    page.get_by_text("By date", exact=True).click()
    expect(page.locator(".js-plotly-plot").first.get_by_text("Date", exact=True)).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.app_errors == [] and page.external_requests == []


def test_roster_links_point_at_patient_pages(page, server):
    open_as(page, f"{server}/roster")
    expect(page.locator("[data-testid='stDataFrame']").last).to_be_visible(timeout=30_000)   # the roster (the worklist's is in its expander)
    expect(page.get_by_role("heading", name="Patients")).to_be_visible(timeout=30_000)
    page.get_by_label("Search by name, ID or MRN").fill("P000010")
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 patients match")).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


# a patient page with its parameter and a clinic-wide one (eligibility?patient_id= is the first kind again; CI time)
@pytest.mark.parametrize("path", ["record_session?patient_id=P000001", "side_effects"])
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
        sign_in(pg, "clinician")
        pg.wait_for_timeout(500)
        assert pg.get_by_text("Page not found").count() == 0
        assert pg.get_by_role("dialog").count() == 0
        context.close()


def test_conference_presents_a_case_and_its_downloads_work(page, server, e2e_case, tmp_path):
    """What only a browser shows: the large-type case, drawn figures, and files that download on click."""
    from urllib.parse import quote
    from tests.e2e.conftest import ARTIFACTS
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_as(page, f"{server}/conference?case={quote(e2e_case)}", "presenter")
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


@pytest.mark.parametrize("role", ["clinician", "manager", "presenter", "admin"])
def test_each_role_signs_in_and_visits_every_page_it_has(page, server, role):
    """Signed in once, the role clicks through its own sidebar: every page draws, none shows an error."""
    from kdash import access
    open_as(page, server, role)
    titles = [access.PAGE_TITLES[p] for p in access.pages_for(role)]
    nav = page.locator("[data-testid='stSidebar'] a")
    expect(nav).to_have_count(len(titles), timeout=30_000)
    assert [t.split("\n")[-1].strip() for t in nav.all_inner_texts()] == titles    # after the icon's name
    for i, title in enumerate(titles):
        nav.nth(i).click()
        wait_for_app(page)
        expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0, title
        assert page.get_by_text("cannot open", exact=False).count() == 0, title
    expect(page.get_by_text("Signed in as")).to_be_visible()
    assert page.app_errors == [] and page.external_requests == []


def test_a_manager_typing_a_patient_link_is_refused(page, server, e2e_patient):
    open_as(page, f"{server}/patient?patient_id={e2e_patient}", "manager")
    expect(page.get_by_text("cannot open the Patient progress page")).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_server_log_holds_no_patient_names_or_ids(browser, tmp_path):
    """A clinician opens patient pages, records nothing, signs in wrongly once; the server's own log (what an
    operator's log collector would keep) names no patient, no MRN and no password."""
    import duckdb
    from kdash import demo
    from tests.e2e.browser import streamlit_server
    store = str(tmp_path / "log.duckdb")
    demo.build(store, patients=30)
    con = duckdb.connect(store, read_only=True)
    people = con.execute("SELECT patient_id, given_name, family_name, mrn FROM patients LIMIT 5").fetchall()
    con.close()
    with streamlit_server(store) as url:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(f"{url}/patient?patient_id={people[0][0]}")
        wait_for_app(pg)
        pg.get_by_label("User name").fill("clinician")
        pg.get_by_label("Password", exact=True).fill("a wrong secret password")
        pg.get_by_role("button", name="Sign in").click()
        expect(pg.get_by_text("Wrong user name or password.")).to_be_visible(timeout=30_000)
        sign_in(pg, "clinician")
        expect(pg.get_by_text(people[0][0]).first).to_be_visible(timeout=30_000)
        for pid, *_ in people[1:]:          # each a new tab's session, signed in by the cookie
            pg.goto(f"{url}/patient?patient_id={pid}")
            wait_for_app(pg)
            expect(pg.locator("h3").first).to_contain_text(f"ID {pid}", timeout=30_000)
        context.close()
    log = (tmp_path / "log.server.log").read_text()
    secrets = [x for row in people for x in row if x] + ["a wrong secret password", "kdash-demo-2026"]
    assert [s for s in secrets if s in log] == []


@pytest.mark.parametrize("path", ["patient", "eligibility", "record_session"])
def test_typing_five_patients_in_a_row_shows_each_typed_patient(page, server, path):
    """Type an ID, press Enter, check the header; five times, as a clinician moves through a list (the box used
    to snap back to the previous ID every second time)."""
    open_as(page, f"{server}/{path}")
    box = page.get_by_role("textbox", name="Patient ID")
    for pid in ["P000003", "P000010", "P000004", "P000021", "P000007"]:
        box.fill(pid)
        box.press("Enter")
        wait_for_app(page)
        expect(page.locator("h3").first).to_contain_text(f"ID {pid}", timeout=30_000)
        expect(box).to_have_value(pid)
        assert f"patient_id={pid}" in page.url
    page.go_back()                                   # the browser's back button: the previous patient again
    wait_for_app(page)
    expect(page.locator("h3").first).to_contain_text("ID P000021", timeout=30_000)
    expect(box).to_have_value("P000021")
    assert page.locator("[data-testid='stException']").count() == 0 and page.app_errors == []


def test_links_between_patient_pages_stay_in_the_tab_and_the_signed_in_session(page, server):
    """Roster row → patient → eligibility → record a session: one tab, never asked to sign in again."""
    open_as(page, f"{server}/roster")
    page.get_by_role("textbox", name="Search by name, ID or MRN").fill("P000010")
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 patients match")).to_be_visible(timeout=30_000)
    grid = page.locator("[data-testid='stDataFrame']").last          # the roster's own, below the worklist's expander
    click_first_row(page, grid, lambda ms: expect(page.get_by_role("heading", name="Patient progress")).to_be_visible(
        timeout=ms))
    expect(page.locator("h3").first).to_contain_text("ID P000010", timeout=30_000)
    page.get_by_role("link", name="Eligibility checklist").click()
    expect(page.get_by_role("heading", name="Eligibility", exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator("h3").first).to_contain_text("ID P000010", timeout=30_000)
    page.go_back()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)
    expect(page.locator("h3").first).to_contain_text("ID P000010", timeout=30_000)
    page.locator("a[href*='record_session?patient_id=']").click()
    expect(page.get_by_role("heading", name="Record a session")).to_be_visible(timeout=30_000)
    expect(page.locator("h3").first).to_contain_text("ID P000010", timeout=30_000)
    assert len(page.context.pages) == 1                         # no new tab, so no new Streamlit session
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_have_count(0)
    expect(page.get_by_text("Signed in as")).to_be_visible()
    assert page.locator("[data-testid='stException']").count() == 0 and page.app_errors == []


def test_the_finder_opens_the_patient_clicked(page, server, e2e_patient):
    open_as(page, f"{server}/patient?patient_id={e2e_patient}")
    header = page.locator("h3").first
    expect(header).to_contain_text(f"ID {e2e_patient}", timeout=30_000)
    page.get_by_text("Find a patient by name, ID or MRN").click()
    finder = page.get_by_role("searchbox", name="Name, ID or MRN")
    finder.press_sequentially("P000021", delay=60)       # as one types: no Enter, the matches follow the keys
    expect(page.get_by_text("1 match. Click a row")).to_be_visible(timeout=30_000)
    grid = page.locator("[data-testid='stExpander']").first.locator("[data-testid='stDataFrame']")
    expect(grid).to_have_count(1, timeout=30_000)
    click_first_row(page, grid, lambda ms: expect(header).to_contain_text("ID P000021", timeout=ms))
    assert "patient_id=P000021" in page.url
    assert page.locator("[data-testid='stException']").count() == 0 and page.app_errors == []
