"""Reliability checks: crash safety, the one-writer rule, concurrency, soak. Short versions run in CI;
KDASH_RELIABILITY=full runs the full campaigns and writes tests/reliability/results/*.json.

The `chromium` fixture is the session's one browser (tests/conftest.py): Playwright's sync API allows one
instance per thread, so the browser and reliability suites must share it."""
