"""`python -m kdash bench`: the benchmarks (docs/performance.md). Not run in CI.

- pages: every page cold and warm in AppTest, against a full pass over the store's largest table (R);
- browser: what a person waits for in Chromium; users: many people at once on one server;
- network: a PostgreSQL record's replicas (pull, failover).

common holds what they share (emit, quiet_streamlit); main builds the store when it is missing and picks one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from kdash.bench import common
from kdash import demo


def _build(path: str, patients: int) -> None:
    t = time.perf_counter()
    demo.build(path, patients, seed=7)
    print(f"built {path}: {patients:,} patients in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def main(args) -> int:
    common.quiet_streamlit()
    from kdash.store import pg
    path = args.db or os.path.join(tempfile.gettempdir(), f"kdash-bench-{args.patients}.duckdb")
    if pg.is_url(path):
        if not pg.has_schema(path):
            _build(path, args.patients)
        if getattr(args, "network", False):
            from kdash.bench import network
            return network.main(args, path)
    elif not Path(path).exists():
        _build(path, args.patients)
    if getattr(args, "users", None):
        from kdash.bench import users
        return users.main(args, path)
    if getattr(args, "browser", False):
        from kdash.bench import browser
        return browser.main(args, path)
    from kdash.bench import pages
    return pages.run(args, path)
