"""The patient check-in in Chromium at 390×844 with touch, as a patient would do it on a phone (issue 33): a whole
check-in; item 9 above 0 reaching a clinician's worklist open in another browser; reload, reuse and a double tap
saving once; a wrong code revealing nothing; the kiosk going back to its start; no staff session from /checkin."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kdash import settings
from kdash.clinical import checkin
from tests.e2e.browser import sign_in, streamlit_server, wait_for_app

PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2)
KIOSK_IDLE = 8


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A demo clinic whose codes are issued before its server takes the store: per test a patient, their birth date
    and a code; the worklist test's patient belongs to the demo clinician account's own clinician."""
    import duckdb
    from kdash import demo
    from kdash.store import db
    from tests.conftest import TODAY
    folder = tmp_path_factory.mktemp("checkin")
    path = str(folder / "checkin.duckdb")
    demo.build(path, patients=60, seed=11, as_of=TODAY)
    (folder / "settings.toml").write_text(f"[checkin]\nkiosk_idle_seconds = {KIOSK_IDLE}\n"
                                          "kiosk_thanks_seconds = 6\ntries_per_minute = 60\n")
    cfg = settings.load(path)
    con = db.connect(path, create=False)
    con.execute("DELETE FROM flag_acks")       # a clinic with open flags to act on while a check-in arrives
    mine = con.execute("SELECT clinician FROM users WHERE username = 'clinician'").fetchone()[0]
    rows = con.execute(
        "SELECT patient_id, birth_date, clinician = $c AS mine FROM patients p WHERE NOT deceased AND NOT EXISTS "
        "(SELECT 1 FROM flag_log f WHERE f.patient_id = p.patient_id AND f.rule = 'suicidal_thoughts' "
        "AND f.severity <> 'clear') "
        "ORDER BY mine DESC, patient_id", {"c": mine}).fetchall()
    assert rows[0][2], "no patient of the demo clinician without a suicide-item flag"
    people = {}
    for name, (pid, born, _) in zip(("worklist", "whole", "once", "wrong", "kiosk", "staff"), rows):
        forms = "PHQ9,GAD7" if name == "whole" else "PHQ9"
        people[name] = {"pid": pid, "born": born, "code": checkin.issue(con, cfg, pid, forms, by="desk")["code"],
                        "reports": con.execute("SELECT count(*) FROM assessments WHERE patient_id = $p AND "
                                               "source = 'self_report'", {"p": pid}).fetchone()[0]}
    con.close()
    duckdb.connect(path).close()          # nothing holds the store when the server starts
    with streamlit_server(path) as url:
        yield url, people


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(**PHONE)
    yield ctx
    ctx.close()


def open_checkin(page, url: str, who: dict, with_code: bool = True, kiosk: bool = False) -> None:
    page.goto(url + "/checkin" + ("?kiosk=1" if kiosk else f"?code={who['code']}" if with_code else ""))
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible()
    if not with_code or kiosk:
        page.get_by_label("Check-in code (on your slip)").fill(who["code"].lower().replace("-", " "))
    page.get_by_label("Your date of birth (month/day/year)").fill(f"{who['born']:%m/%d/%Y}")
    page.get_by_role("button", name="Next").tap()
    wait_for_app(page)


def answer(page, choices: list[str]) -> None:
    """Tap one answer per question, in order, as a thumb would."""
    for i, choice in enumerate(choices):
        group = page.get_by_role("radiogroup").nth(i)
        group.get_by_text(choice, exact=True).tap()
        wait_for_app(page)


def wcag_violations(page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page as drawn (axe runs from the package, no network)."""
    from axe_playwright_python.sync_playwright import Axe
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result.response["violations"]]


def fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"


def test_a_whole_check_in_on_a_phone(phone, clinic):
    url, people = clinic
    who = people["whole"]
    page = phone.new_page()
    page.goto(url + f"/checkin?code={who['code']}")
    wait_for_app(page)
    assert wcag_violations(page) == []                                   # the start screen
    open_checkin(page, url, who)
    expect(page.get_by_text(checkin.QUESTION)).to_be_visible()
    expect(page.get_by_text("Part 1 of 2")).to_be_visible()
    fits_the_phone(page)
    assert wcag_violations(page) == []
    # every answer is a labelled choice a screen reader names with its question
    first = page.get_by_role("radiogroup").first
    expect(first).to_have_accessible_name(re.compile("Little interest or pleasure in doing things"))
    expect(first.get_by_role("radio")).to_have_count(4)
    page.get_by_role("button", name="Next").tap()                     # nothing answered: it says so, stays
    wait_for_app(page)
    expect(page.get_by_text("Please answer questions 1, 2, 3")).to_be_visible()
    answer(page, ["Several days"] * 8 + ["Not at all"])
    expect(page.get_by_text("9 of 9 questions answered")).to_be_visible()
    page.get_by_role("button", name="Next").tap()
    wait_for_app(page)
    expect(page.get_by_text("Part 2 of 2")).to_be_visible()
    page.get_by_role("button", name="Back").tap()                     # going back keeps what was answered
    wait_for_app(page)
    expect(page.get_by_role("radiogroup").first.get_by_role("radio", name="Several days")).to_be_checked()
    page.get_by_role("button", name="Next").tap()
    wait_for_app(page)
    # by keyboard too: a focused choice is taken with the space bar
    first = page.get_by_role("radiogroup").first.get_by_role("radio", name="Nearly every day")
    first.focus()
    page.keyboard.press("Space")
    wait_for_app(page)
    expect(page.get_by_role("radiogroup").first.get_by_role("radio", name="Nearly every day")).to_be_checked()
    answer(page, ["More than half the days"] * 7)
    page.get_by_role("button", name="Send").tap()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    body = page.inner_text("body")
    assert "speak to a member of staff" not in body                   # item 9 = 0
    assert not re.search(r"\bscore|\bmild|\bmoderate|\bsevere|\b8\b|\b14\b", body, re.I), body
    fits_the_phone(page)
    assert wcag_violations(page) == []


def test_item_9_reaches_a_clinicians_open_worklist_without_a_reload_and_keeps_what_they_type(browser, phone, clinic):
    url, people = clinic
    who = people["worklist"]
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = desk.new_page()
    staff.goto(url + "/")
    sign_in(staff)
    grid = staff.locator("[data-testid='stDataFrame']:visible").first
    expect(grid).to_be_visible()
    assert staff.locator("td", has_text=who["pid"]).count() == 0      # the grid's own (hidden) table of cells
    # the clinician starts acknowledging another flag and types a note
    from tests.e2e.browser import click_first_row
    click_first_row(staff, grid, lambda t: expect(staff.get_by_label("Note (optional)")).to_be_visible(timeout=t))
    staff.get_by_label("Note (optional)").fill("rang the patient at 9:10")
    patient = phone.new_page()
    open_checkin(patient, url, who)
    answer(patient, ["Not at all"] * 8 + ["Several days"])
    patient.get_by_role("button", name="Send").tap()
    wait_for_app(patient)
    expect(patient.get_by_text("Please speak to a member of staff now")).to_be_visible()
    expect(patient.get_by_text("988")).to_be_visible()
    # within a minute, on the clinician's screen that nobody touched
    expect(staff.locator("td", has_text=who["pid"]).first).to_be_attached(timeout=60_000)
    row = staff.locator("tr", has=staff.locator("td", has_text=who["pid"])).first
    expect(row).to_contain_text("PHQ-9 item 9 = 1 (self-reported)")
    expect(row).to_contain_text("Urgent")
    expect(staff.get_by_label("Note (optional)")).to_have_value("rang the patient at 9:10")
    desk.close()


def test_reload_reuse_and_a_double_tap_save_once(browser, phone, clinic):
    url, people = clinic
    who = people["once"]
    page = phone.new_page()
    open_checkin(page, url, who)
    answer(page, ["Several days"] * 9)
    page.get_by_role("button", name="Send").scroll_into_view_if_needed()
    box = page.get_by_role("button", name="Send").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.touchscreen.tap(x, y)                                          # a double tap on Send
    page.touchscreen.tap(x, y)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    page.reload()                                                       # reload: a new session, the code is spent
    wait_for_app(page)
    page.get_by_label("Your date of birth (month/day/year)").fill(f"{who['born']:%m/%d/%Y}")
    page.get_by_role("button", name="Next").tap()
    wait_for_app(page)
    expect(page.get_by_text(checkin.REFUSED)).to_be_visible()
    other = phone.new_page()                                            # a second tab
    open_checkin(other, url, who)
    expect(other.get_by_text(checkin.REFUSED)).to_be_visible()
    # the clinician sees exactly one new self-report
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = desk.new_page()
    staff.goto(url + f"/patient?patient_id={who['pid']}")
    sign_in(staff)
    expect(staff.get_by_text(f"Self-reports ({who['reports'] + 1})")).to_be_visible()
    expect(staff.get_by_text("Today's self-report")).to_be_visible()
    desk.close()


def test_a_wrong_code_or_birth_date_reveals_nothing(phone, clinic):
    url, people = clinic
    who = people["wrong"]
    page = phone.new_page()
    for code, born in (("ZZZZ-ZZZZ", who["born"]), (who["code"], who["born"].replace(year=who["born"].year + 1))):
        page.goto(url + f"/checkin?code={code}")
        wait_for_app(page)
        page.get_by_label("Your date of birth (month/day/year)").fill(f"{born:%m/%d/%Y}")
        page.get_by_label("Your date of birth (month/day/year)").press("Enter")
        wait_for_app(page)
        expect(page.get_by_text(checkin.REFUSED)).to_be_visible()
        body = page.inner_text("body")
        assert who["pid"] not in body and "Test" not in body
        assert page.get_by_role("radiogroup").count() == 0


def test_the_kiosk_goes_back_to_its_start_after_sending_and_when_left_alone(phone, clinic):
    url, people = clinic
    who = people["kiosk"]
    page = phone.new_page()
    open_checkin(page, url, who, kiosk=True)
    answer(page, ["Not at all"] * 3)                      # someone starts, then walks away
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible()
    expect(page.get_by_label("Check-in code (on your slip)")).to_be_visible(timeout=(KIOSK_IDLE + 15) * 1000)
    wait_for_app(page)                                   # the reset's run has finished: nothing stale on screen
    expect(page.get_by_label("Check-in code (on your slip)")).to_have_value("")
    expect(page.get_by_role("radiogroup")).to_have_count(0)
    open_checkin(page, url, who, kiosk=True)              # the code was not spent: the patient starts again
    answer(page, ["Not at all"] * 9)
    page.get_by_role("button", name="Send").tap()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.get_by_label("Check-in code (on your slip)")).to_be_visible(timeout=30_000)
    assert "Thank you" not in page.inner_text("body")


def test_no_staff_session_is_seen_from_the_check_in_page(browser, clinic):
    url, people = clinic
    tablet = browser.new_context(**PHONE)
    page = tablet.new_page()
    page.goto(url + "/")
    sign_in(page)                                          # a clinician used the tablet and left it signed in
    page.goto(url + "/checkin")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible()
    body = page.inner_text("body")
    assert "Signed in as" not in body and "Patients" not in body and people["staff"]["pid"] not in body
    assert page.get_by_test_id("stSidebar").count() == 0 or not page.get_by_test_id("stSidebar").is_visible()
    page.goto(url + f"/patient?patient_id={people['staff']['pid']}")    # the clinic's pages ask for a sign-in again
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible()
    tablet.close()
