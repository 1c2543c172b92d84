"""Keyboard only, and at 200 % zoom (issue 36, WCAG 2.1.1 and 1.4.4/1.4.10): a person who cannot use a mouse signs
in, switches patient and acknowledges a flag with Tab, typing, Enter and the arrow keys; at 200 % zoom (a 1280 px
screen is 640 CSS px wide) no page scrolls sideways and no text is cut off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from kdash.access.users import DEMO_PASSWORD
from tests.e2e.browser import sign_in, streamlit_server, wait_for_app
from tests.e2e.layout import OVERFLOW_JS

FOCUSED = "() => { const e = document.activeElement; return e ? (e.getAttribute('aria-label') || e.innerText || '').trim() : ''; }"


def tab_to(page, label: str, tries: int = 60) -> None:
    """Press Tab until the focused element is the one named `label` (as a screen reader names it)."""
    for _ in range(tries):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED).startswith(label):
            return
    raise AssertionError(f"Tab never reached {label!r}")


@pytest.fixture(scope="module")
def keyboard_clinic(tmp_path_factory):
    """Its own store and server: the acknowledgement below changes the record."""
    from kdash import demo, settings
    from kdash.clinical import worklist
    from kdash.store import db
    path = str(tmp_path_factory.mktemp("keyboard") / "k.duckdb")
    demo.build(path, patients=80, seed=5, as_of=dt.date.today())
    con = db.connect(path)
    from kdash.store import derived
    pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' ORDER BY patient_id LIMIT 1").fetchone()[0]
    with db.transaction(con) as cur:          # a suicide-item answer today: an urgent flag to acknowledge
        cur.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items) VALUES (?, ?, 'PHQ9', 14, "
                    "[2, 2, 2, 2, 1, 1, 1, 1, 2])", [pid, dt.date.today()])
        derived.refresh(cur, [pid])
        derived.refresh_stamped(con, cur, settings.load(path), [pid])
    flagged = worklist.items(con, settings.load(path), dt.date.today())
    iv = con.execute("SELECT patient_id FROM sessions WHERE route = 'iv_ketamine' AND status = 'completed' "
                     "AND patient_id <> ? ORDER BY patient_id LIMIT 1", [pid]).fetchone()[0]
    con.close()
    assert pid in set(flagged["patient_id"])
    pids = [pid] + [p for p in dict.fromkeys(flagged["patient_id"]) if p != pid]
    with streamlit_server(path) as url:
        yield url, pids, iv


def test_sign_in_switch_patient_and_acknowledge_with_the_keyboard_alone(browser, keyboard_clinic):
    server, flagged, _ = keyboard_clinic
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server + "/patient")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=60_000)
    tab_to(page, "User name")
    page.keyboard.type("clinician")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)

    pid = flagged[0]
    tab_to(page, "Patient ID")
    page.keyboard.type(pid)
    page.keyboard.press("Enter")
    expect(page.locator("h3").first).to_contain_text(f"ID {pid}", timeout=30_000)
    wait_for_app(page)

    tab_to(page, "Action taken")
    option = page.get_by_role("option").first
    for _ in range(3):                            # the list opens on its first action (slowly on a busy machine)
        page.keyboard.press("ArrowDown")
        try:
            expect(option).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    chosen = option.inner_text().strip()
    page.keyboard.press("Enter")
    expect(page.get_by_role("option")).to_have_count(0, timeout=10_000)       # the list closed on the choice
    expect(page.get_by_text("Choose the action", exact=True)).to_have_count(0, timeout=10_000)   # placeholder gone
    assert chosen
    tab_to(page, "Note (optional)", tries=3)      # past the choice's own clear button
    page.keyboard.type("seen, by keyboard")
    tab_to(page, "Acknowledge", tries=2)
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(rf"acknowledged for {re.escape(pid)}"))).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    context.close()


@pytest.mark.parametrize("path", ["/", "/roster", "/patient?patient_id={pid}", "/eligibility?patient_id={pid}",
                                  "/record_session?patient_id={pid}", "/outcomes"])
def test_at_200_percent_zoom_nothing_scrolls_sideways_or_is_cut_off(browser, keyboard_clinic, path):
    server, flagged, _ = keyboard_clinic
    # 200 % of a 1280 × 900 screen: 640 × 450 CSS pixels at twice the pixel density
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    page = context.new_page()
    page.goto(server + "/")
    sign_in(page, "clinician")
    page.goto(server + path.format(pid=flagged[0]))
    wait_for_app(page)
    page.wait_for_timeout(800)
    wide = page.evaluate("() => { const m = document.querySelector(\"[data-testid='stMain']\"); "
                         "return [m.scrollWidth, m.clientWidth]; }")
    assert wide[0] <= wide[1] + 1, f"{path} scrolls sideways at 200 %: {wide}"
    # the collapsed sidebar's links have no width at all (off screen until opened): not cut, not shown
    cut = [f for f in page.evaluate(OVERFLOW_JS) if f["what"] == "text" and f["client"] > 0]
    assert cut == [], f"{path}: {cut[:5]}"
    assert page.locator("[data-testid='stException']").count() == 0
    context.close()


def test_record_a_session_with_the_keyboard_alone(browser, keyboard_clinic):
    """Weight and dose typed, past the vitals and ratings grids (arrow keys inside, Tab leaves them), the
    before-dosing confirmation ticked with Space where the page asks for one, and saved with Enter."""
    server, _, iv = keyboard_clinic
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/record_session?patient_id={iv}")
    sign_in(page, "clinician")
    expect(page.get_by_role("heading", name="Record a session")).to_be_visible(timeout=30_000)
    for label, value in (("Weight (kg)", "81.5"), ("Dose (mg)", "40")):
        tab_to(page, label)
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
        page.keyboard.press("Enter")
        wait_for_app(page)
    expect(page.get_by_text("= 0.49 mg/kg")).to_be_visible(timeout=30_000)
    if page.get_by_text("I have reviewed these and the session went ahead").count():
        tab_to(page, "I have reviewed these")
        page.keyboard.press("Space")
        wait_for_app(page)
    tab_to(page, "Save session", tries=120)
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"^Saved session"))).to_be_visible(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    context.close()
