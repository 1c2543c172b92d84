"""Reliability checks: crash safety, the one-writer rule, concurrency, soak. Short versions run in CI;
KDASH_RELIABILITY=full runs the full campaigns and writes tests/reliability/results/*.json."""


import pytest

from tests.e2e.browser import launched_chromium


@pytest.fixture(scope="module")
def chromium():
    with launched_chromium() as b:
        yield b
