"""Issue 19 in the browser: exports audited with their user and refused once the sign-in has ended; data that is
HTML stays text; plotly's own image download is gone; the idle timer hides the patient without a click."""

import pytest

from tests.e2e.browser import open_as, streamlit_server, wait_for_app


def grid_text(page) -> str:
    return " | ".join(page.locator("[data-testid='stDataFrame'] [role='gridcell']").all_text_contents())


def test_an_export_is_audited_with_its_user_and_refused_after_sign_out(browser, server, e2e_case):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        open_as(page, f"{server}/conference?case={e2e_case.replace(' ', '%20')}", "presenter")
        with page.expect_download(timeout=120_000) as first:
            page.get_by_role("button", name="PDF handout").click()
        assert open(first.value.path(), "rb").read()[:5] == b"%PDF-"
        # the same browser signs out in a second tab; the first tab still shows the case and its button
        other = context.new_page()
        other.goto(server)
        wait_for_app(other)
        other.get_by_role("button", name="Sign out").click()
        wait_for_app(other)
        page.wait_for_timeout(500)
        with pytest.raises(Exception):                       # no file: the bytes are never made
            with page.expect_download(timeout=8_000):
                page.get_by_role("button", name="PDF handout").click()
    finally:
        context.close()
    admin = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    try:
        open_as(admin, f"{server}/audit", "admin")
        admin.get_by_label("User").fill("presenter")
        admin.get_by_label("User").press("Enter")
        wait_for_app(admin)
        admin.wait_for_timeout(800)
        text = grid_text(admin)
        assert "Exported PDF handout" in text and "Presenter" in text
        assert "Refused" in text                              # the click after signing out, with its user
    finally:
        admin.context.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A small demo clinic whose imported names and clinician are HTML and markdown."""
    from kdash import demo
    from kdash.store import db
    path = str(tmp_path_factory.mktemp("hostile") / "h.duckdb")
    demo.build(path, patients=40, seed=5)
    con = db.connect(path)
    try:
        pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' GROUP BY patient_id "
                          "ORDER BY count(*) DESC, patient_id LIMIT 1").fetchone()[0]
        con.execute("UPDATE patients SET clinician = '<img src=\"/x-clinician\" onerror=\"window.pwned=1\">' "
                    "WHERE patient_id IN (SELECT patient_id FROM patients LIMIT 10)")
        con.execute("UPDATE patients SET given_name = '<a href=\"http://evil.example/\">Eve</a>', "
                    "family_name = '[pay](javascript:window.pwned=2)' WHERE patient_id = ?", [pid])
    finally:
        con.close()
    with streamlit_server(path) as url:
        yield url, pid


def test_html_and_markdown_in_data_stay_text(browser, hostile_server):
    """Finding 3: a clinician name imported as HTML rendered as live HTML on the conference cohort picker."""
    url, pid = hostile_server
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "x-clinician" in r.url or "evil" in r.url else None)
    try:
        open_as(page, f"{url}/patient?patient_id={pid}", "clinician")
        page.wait_for_timeout(800)
        assert page.get_by_text("<a href=", exact=False).count() >= 1        # shown as the characters it is
        page.goto(f"{url}/conference")
        wait_for_app(page)
        page.get_by_text("A cohort", exact=True).click()
        wait_for_app(page)
        page.get_by_label("Clinician").click()
        page.get_by_role("option").filter(has_text="x-clinician").first.click()    # the cohort of that "clinician"
        wait_for_app(page)
        page.wait_for_timeout(800)
        assert page.get_by_text("x-clinician", exact=False).count() >= 1           # its name shown, as text
        assert page.locator("a[href^='http://evil'], a[href^='javascript'], img[src*='x-clinician']").count() == 0
        assert page.evaluate("window.pwned") is None
        assert fetched == []
    finally:
        page.context.close()


def test_plotly_cannot_download_a_figure_around_the_audit(page, server):
    open_as(page, f"{server}/outcomes", "manager")
    page.wait_for_timeout(1000)
    page.locator(".js-plotly-plot").first.hover()
    assert page.locator(".js-plotly-plot").count() > 0
    assert page.locator("[data-title='Download plot as png'], [data-title^='Download plot']").count() == 0


def test_no_table_offers_its_own_download_only_the_audited_one(page, server):
    """Issue 31: every st.dataframe kept Streamlit's toolbar "Download as CSV" (not authorised, not audited, not
    formula-escaped). With client.disableDataExport the toolbar has no download, and the page's own audited button
    is the one way out."""
    open_as(page, f"{server}/roster", "clinician")
    grid = page.locator("[data-testid='stDataFrame']").last
    grid.wait_for(timeout=30_000)
    grid.hover()
    page.wait_for_timeout(500)
    toolbar = page.locator("[data-testid='stElementToolbar']").last
    assert toolbar.locator("button").count() >= 1                       # the toolbar is there (search, fullscreen)
    labels = [b.get_attribute("aria-label") or b.inner_text() for b in page.locator(
        "[data-testid='stElementToolbar'] button").all()]
    assert not [x for x in labels if x and "download" in x.lower()], labels
    assert page.get_by_role("button", name="Download this page as CSV").count() == 1
