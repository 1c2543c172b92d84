"""WCAG 2.1 AA on every page for every role (issue 36): axe-core in Chromium (axe-playwright-python, which carries
axe inside the package: no network) finds no serious or critical violation, at 1280 px."""

from __future__ import annotations

import pytest

from kdash import access
from tests.e2e.browser import sign_in, wait_for_app
from tests.e2e.test_layout import links


def violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['html'][:100]}" for v in result.response["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("role", access.ROLES)
def test_no_serious_or_critical_violation_on_any_page(browser, e2e_patient, e2e_case, e2e_other_patient, server, role):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server + "/")
    sign_in(page, role)
    found = {}
    for path in links(role, e2e_patient, e2e_case, e2e_other_patient):
        page.goto(server + path)
        wait_for_app(page)
        page.wait_for_timeout(800)          # charts drawn
        bad = violations(page)
        if bad:
            found[path] = bad
    context.close()
    assert found == {}
