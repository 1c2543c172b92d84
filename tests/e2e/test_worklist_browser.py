"""A clinician clears a flag from the home page's worklist in Chromium: click the row, choose the action,
acknowledge; the flag leaves the worklist and is in the patient's flag history (issue 17)."""

import re

from playwright.sync_api import expect

from tests.e2e.browser import open_as, wait_for_app


def open_count(page) -> int:
    text = page.get_by_text(re.compile(r"^\d+ open flags?")).first.inner_text()
    return int(text.split()[0])


def test_acknowledging_a_flag_from_the_worklist(page, server):
    open_as(page, server)
    expect(page.get_by_role("heading", name="Safety-flag worklist")).to_be_visible(timeout=30_000)
    page.get_by_text("All patients", exact=True).click()
    wait_for_app(page)
    before = open_count(page)
    assert before >= 1
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)             # the first (most severe, oldest) flag
    expect(page.get_by_role("button", name="Open this patient")).to_be_visible(timeout=30_000)
    panel = page.locator("[data-testid='stVerticalBlock']").filter(has_text="Open this patient").last
    pid = re.search(r"ID (\S+)", panel.inner_text()).group(1)
    page.get_by_role("button", name="Acknowledge").click()          # no action chosen yet
    expect(page.get_by_text("Choose the action taken before acknowledging.")).to_be_visible(timeout=30_000)
    page.get_by_role("combobox", name="Action taken").click()
    page.keyboard.type("Reviewed")
    page.keyboard.press("Enter")
    page.get_by_role("textbox", name="Note (optional)").fill("seen in clinic")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text(f"acknowledged for {pid}")).to_be_visible(timeout=30_000)
    # waits: the success note can show while the count above it is still the last run's
    expect(page.get_by_text(re.compile(rf"^{before - 1} open flags?")).first).to_be_visible(timeout=30_000)

    expect(page.get_by_role("button", name="Open this patient")).to_have_count(0)   # nothing left selected
    box = grid.bounding_box()                                        # the note above moved the grid down
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)             # the flag now first: another one
    expect(page.get_by_role("button", name="Open this patient")).to_be_visible(timeout=30_000)
    other = re.search(r"ID (\S+)", panel.inner_text()).group(1)
    page.get_by_role("button", name="Open this patient").click()
    expect(page.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)
    expect(page.locator("h3").first).to_contain_text(f"ID {other}", timeout=30_000)   # the flag's own patient
    page.goto(f"{server}/patient?patient_id={pid}")                 # a new tab's session, still signed in
    wait_for_app(page)
    expect(page.locator("h3").first).to_contain_text(f"ID {pid}", timeout=30_000)
    history = page.get_by_text(re.compile(r"Flag history \(\d+ earlier, \d+ acknowledgements?\)"))
    expect(history).to_be_visible(timeout=30_000)
    history.click()
    expect(page.locator("[role='gridcell']", has_text="Reviewed: no action needed").first).to_be_attached(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0 and page.app_errors == []
