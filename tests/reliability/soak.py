"""Soak: every page rerun N times in one process on a demo store; resident memory at the start, its peak
and at the end. Usage: python -m tests.reliability.soak [--reruns 1000] [--store PATH] [--json OUT]"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def soak(store: str, reruns: int) -> dict:
    import streamlit as st
    from streamlit import logger
    from kdash import access
    from tests.app.session import signed_in
    logger.set_log_level("error")
    os.environ["KDASH_DB"] = store
    os.chdir(ROOT)
    pages = [p for p in access.PAGES]
    st.cache_data.clear()
    gc.collect()
    start, samples, runs, errors = rss_mb(), [], 0, []
    t0 = time.time()
    for page in pages:
        role = next(r for r in access.ROLES if access.may_open(r, page))
        at = signed_in(role, "soak")
        if page in ("patient", "eligibility", "record_session"):
            at.query_params["patient_id"] = "P000001"
        at.run()
        at.switch_page(f"pages/{page}.py").run()
        for i in range(reruns):
            at.session_state["user"]["seen"] = time.time()       # a person clicking all day is never idle
            at.run()
            runs += 1
            if at.exception:
                errors.append(f"{page}: {at.exception[0].value}")
            if i % max(2, reruns // 10) == 0:        # gc.collect() is most of a warm rerun's time
                gc.collect()
                samples.append(round(rss_mb(), 1))
        del at
    gc.collect()
    end = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"pages": len(pages), "reruns per page": reruns, "runs": runs, "seconds": round(time.time() - t0),
            "errors": errors[:10], "rss start MB": round(start, 1), "rss peak MB": round(peak, 1),
            "rss end MB": round(end, 1), "rss samples MB": samples}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.reliability.soak")
    p.add_argument("--reruns", type=int, default=1000)
    p.add_argument("--store", help="a demo store (default: a new 400-patient demo under /tmp)")
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    store = args.store or os.path.join(tempfile.mkdtemp(), "soak.duckdb")
    if not Path(store).exists():
        from kdash import demo
        demo.build(store, patients=400, seed=7)
    figures = soak(store, args.reruns)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
