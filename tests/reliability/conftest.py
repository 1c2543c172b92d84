"""Reliability checks: crash safety, the one-writer rule, concurrency, soak. Short versions run in CI;
KDASH_RELIABILITY=full runs the full campaigns and writes tests/reliability/results/*.json."""

import os

import pytest

from tests.e2e.browser import CHROMIUM_ARGS, chromium_path


@pytest.fixture(scope="module")
def chromium():
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
