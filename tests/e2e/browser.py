"""Run the real app with `streamlit run` and drive it in Debian's Chromium through Playwright."""

from __future__ import annotations

import contextlib
import os

from kdash.ui import serving
from kdash.ui.serving import CHROMIUM_ARGS, ROOT, chromium_path  # noqa: F401 (the tests import ROOT)


@contextlib.contextmanager
def launched_chromium():
    """Debian's Chromium under Playwright; skips (or, in CI, fails) when it is not installed."""
    import pytest
    path = chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def streamlit_server(db_path: str, extra_env: dict | None = None):
    with serving.streamlit_server(db_path, extra_env) as server:
        yield server.url


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Until the script has finished running (Streamlit's own e2e suite waits the same way)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector("h1", timeout=timeout)          # the page has drawn, not just the frame
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def sign_in(page, role: str = "clinician", password: str | None = None, timeout: float = 60_000) -> None:
    """Sign in on the page's sign-in form with a demo account (user name = role); the page then draws the
    page the URL asked for."""
    from playwright.sync_api import expect
    from kdash.access.users import DEMO_PASSWORD
    wait_for_app(page, timeout)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=timeout)
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password", exact=True).fill(password or DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=timeout)
    wait_for_app(page, timeout)


def open_as(page, url: str, role: str = "clinician") -> None:
    """Load a URL (a new Streamlit session: signed out) and sign in as a role."""
    page.goto(url)
    sign_in(page, role)


def click_first_row(page, grid, opened, tries: int = 3) -> None:
    """Click a data grid's first row as a person would, and wait for `opened` (a Playwright expectation, given a
    timeout) to hold. A grid drawn while its fragment still reruns may drop that click; the person clicks again,
    and so does this, once nothing has happened for 15 s."""
    for attempt in range(tries):
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)      # the first row's selection cell
        try:
            opened(15_000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise
