"""What every benchmark shares: its output (a table, or JSON with --json) and a quiet Streamlit."""

from __future__ import annotations

import sys


def emit(as_json: bool, text: str, result: dict) -> int:
    """A benchmark's table on stdout, or with --json its results there and the table on stderr."""
    import json
    if as_json:
        print(text, file=sys.stderr)
        print(json.dumps(result, indent=2))
    else:
        print(text)
    return 0


def quiet_streamlit() -> None:
    from streamlit import logger
    logger.set_log_level("error")   # AppTest's bare-mode warnings would bury the table
