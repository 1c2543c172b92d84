"""A sign-in outlives a tab, as a clinician uses one: reload, a second tab, a link opened in a new tab; and it ends
everywhere at sign-out or when an administrator disables the account (issue 16)."""

from playwright.sync_api import expect

from tests.e2e.browser import open_as, sign_in, wait_for_app


def header(page):
    return page.locator("h3").first


def signed_in(page) -> None:
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_have_count(0)


def test_a_reload_keeps_the_sign_in_and_the_patient(page, server, e2e_patient):
    open_as(page, f"{server}/patient?patient_id={e2e_patient}")
    expect(header(page)).to_contain_text(f"ID {e2e_patient}", timeout=30_000)
    assert page.url.endswith(f"/patient?patient_id={e2e_patient}")        # the deep link survived signing in
    for _ in range(2):
        page.reload()
        wait_for_app(page)
        signed_in(page)
        expect(header(page)).to_contain_text(f"ID {e2e_patient}", timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0 and page.app_errors == []


def test_the_cookie_is_httponly_and_strict(page, server):
    open_as(page, f"{server}/roster")
    cookie = next(c for c in page.context.cookies() if c["name"] == "kdash_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and len(cookie["value"]) >= 40
    assert "kdash_session" not in page.evaluate("document.cookie")       # no script on the page can read it


def test_a_second_tab_and_a_link_opened_in_a_new_tab_are_signed_in(page, server, e2e_patient):
    open_as(page, f"{server}/roster")
    second = page.context.new_page()
    second.goto(f"{server}/patient?patient_id={e2e_patient}")
    wait_for_app(second)
    signed_in(second)
    expect(header(second)).to_contain_text(f"ID {e2e_patient}", timeout=30_000)
    # A link the clinician opens in a new tab on purpose ("Open link in new tab") is a new Streamlit session.
    href = second.get_by_role("link", name="Eligibility checklist").get_attribute("href")
    third = page.context.new_page()
    third.goto(href if href.startswith("http") else f"{server}/{href.lstrip('/')}")
    wait_for_app(third)
    signed_in(third)
    expect(third.get_by_role("heading", name="Eligibility", exact=True)).to_be_visible(timeout=30_000)
    expect(header(third)).to_contain_text(f"ID {e2e_patient}", timeout=30_000)
    assert len(page.context.pages) == 3


def test_signing_out_in_one_tab_signs_out_the_others_at_their_next_click(page, server):
    open_as(page, f"{server}/roster")
    other = page.context.new_page()
    other.goto(f"{server}/outcomes")
    wait_for_app(other)
    signed_in(other)
    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)
    assert not [c for c in page.context.cookies() if c["name"] == "kdash_session"]
    other.get_by_role("link", name="Patients").first.click()
    expect(other.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)
    expect(other.get_by_text("You signed out")).to_be_visible()
    other.reload()
    wait_for_app(other)
    expect(other.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)


def test_an_account_disabled_from_another_session_is_signed_out_at_its_next_click(browser, page, server):
    admin = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_as(admin, f"{server}/users", role="admin")
    admin.get_by_role("textbox", name="User name").fill("dr.leaving")
    admin.get_by_role("textbox", name="First password").fill("a long and fine password 42")
    admin.get_by_role("button", name="Add").click()
    expect(admin.get_by_text("Added dr.leaving as clinician.")).to_be_visible(timeout=30_000)

    page.goto(f"{server}/roster")
    sign_in(page, "dr.leaving", password="a long and fine password 42")
    second_tab = page.context.new_page()
    second_tab.goto(f"{server}/roster")
    wait_for_app(second_tab)
    signed_in(second_tab)

    admin.get_by_role("combobox", name="Account").click()
    admin.keyboard.type("dr.leaving")
    admin.keyboard.press("Enter")
    wait_for_app(admin)
    admin.get_by_role("button", name="Disable", exact=True).click()
    expect(admin.get_by_text("dr.leaving is disabled.")).to_be_visible(timeout=30_000)

    for tab in (page, second_tab):
        tab.get_by_role("link", name="Patient progress").first.click()
        expect(tab.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)
        expect(tab.get_by_text("disabled by an administrator")).to_be_visible()
    page.reload()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)
    admin.context.close()


def test_a_sign_in_ticket_sent_to_another_browser_signs_nobody_in_there(browser, server):
    """Issue 31, login CSRF: an attacker signs in, keeps the one-time ticket link instead of following it, and sends
    it to a clinician. In the clinician's browser the link is refused (it was made for the attacker's browser), so
    the clinician is never working in the attacker's account."""
    from kdash.access.users import DEMO_PASSWORD
    attacker = browser.new_context().new_page()
    captured = []

    def keep(route):
        captured.append(route.request.url)
        route.abort()
    attacker.route("**/_kdash/session*", keep)
    attacker.goto(server)
    wait_for_app(attacker)
    attacker.get_by_label("User name").fill("manager")
    attacker.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    attacker.get_by_role("button", name="Sign in").click()
    attacker.wait_for_timeout(3000)
    assert captured and "ticket=" in captured[0]
    victim = browser.new_context().new_page()
    victim.goto(server)                      # the clinician's browser has been to kdash before: it has its cookie
    wait_for_app(victim)
    victim.goto(captured[0])
    wait_for_app(victim)
    expect(victim.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=30_000)
    assert not [c for c in victim.context.cookies() if c["name"] == "kdash_session"]
    attacker.context.close()
    victim.context.close()
