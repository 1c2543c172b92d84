"""`python -m kdash bench --db postgresql://… --network`: a clinic network's own figures on a PostgreSQL record
(issue 21), not run in CI.

- bootstrap: a new replica's read model, from connect to every derived table built (target ≤ 30 s);
- refresh: another process records 100 sessions; this replica's pull of them, derived rows included (≤ 1 s);
- writers: two processes record sessions as fast as they can for --seconds (≥ 300 sessions/s together). They are
  recording stations: a base-only model each (what `import` and `users` use), so the figure is the record's;
- app saves: one app process's save with its own pull after the commit, as a clinician waits for it (p50, p95).
The page timings come from `bench --db URL` (and `--browser`), beside the embedded store's."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from kdash.store import db

_STATION = r"""
import datetime as dt, json, sys, time
from kdash import settings
from kdash.clinical import recording
from kdash.store import db
url, tag, seconds, count, derived = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
con = db.connect(url, create=False, derived=derived)
cfg = settings.load(url)
pids = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY 1 LIMIT 5000").fetchall()]
print("ready", flush=True)
sys.stdin.readline()
times, i, t_end = [], 0, time.time() + seconds
while (count and i < count) or (not count and time.time() < t_end):
    e = recording.Entry(patient_id=pids[(i * 13 + len(tag)) % len(pids)], day=dt.date.today(), route="iv_ketamine",
                        weight_kg=70.0, dose_mg=35.0, chair="Chair 1", start=dt.time(9, 0), end=dt.time(10, 0),
                        clinician=tag, scores={"MADRS": "18"}, vitals=[{"minute": 0, "systolic": 130, "diastolic": 85}])
    t = time.perf_counter()
    recording.save(con, cfg, e, username=tag)
    times.append(time.perf_counter() - t)
    i += 1
print(json.dumps({"saves": i, "times": times}), flush=True)
"""


def _stations(url: str, n: int, seconds: float = 0, count: int = 0, derived: bool = False) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, "-c", _STATION, url, f"bench-{k}", str(seconds), str(count),
                               "1" if derived else "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for k in range(n)]
    for p in procs:                      # every station bootstrapped before the clock starts
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise db.StoreError(f"a writer station did not start: {line.strip()}")
    t = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.wait()
    return [{**r, "wall": wall} for r in results]


def _p(times: list[float], q: float) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, int(q * len(times)))]


def main(args, url: str) -> int:
    from kdash.bench import common
    from kdash.store import pg
    t = time.perf_counter()
    con = db.connect(url, create=False)
    bootstrap = time.perf_counter() - t
    replica = pg.replica_of(con)
    n_sessions = db.scalar(con, "SELECT count(*) FROM sessions")

    _stations(url, 1, count=100)                        # another process records 100 sessions
    t = time.perf_counter()
    changed = replica.pull()
    refresh = time.perf_counter() - t

    writers = _stations(url, 2, seconds=args.seconds)
    saves = sum(w["saves"] for w in writers)
    rate = saves / max(w["wall"] for w in writers)
    write_times = [x for w in writers for x in w["times"]]

    app = _stations(url, 1, count=30, derived=True)[0]["times"]
    result = {"store": url, "sessions": n_sessions, "bootstrap_s": round(bootstrap, 2),
              "refresh_100_sessions_s": round(refresh, 3), "refresh_patients": sum(c.startswith("patient:") for c in changed),
              "writers": 2, "writer_seconds": args.seconds, "saves": saves, "sessions_per_s": round(rate, 1),
              "station_save_p50_s": round(statistics.median(write_times), 4), "station_save_p95_s": round(_p(write_times, .95), 4),
              "app_save_p50_s": round(statistics.median(app), 3), "app_save_p95_s": round(_p(app, .95), 3)}
    text = "\n".join([
        f"record {url}: {n_sessions:,} sessions",
        f"bootstrap of a new replica: {bootstrap:.1f} s (target ≤ 30 s)",
        f"pull of 100 sessions recorded by another process ({result['refresh_patients']} patients), derived rows "
        f"included: {refresh:.2f} s (target ≤ 1 s)",
        f"2 writer stations for {args.seconds} s: {saves:,} sessions, {rate:.0f} sessions/s together (target ≥ 300); "
        f"a save p50 {result['station_save_p50_s'] * 1000:.0f} ms, p95 {result['station_save_p95_s'] * 1000:.0f} ms",
        f"an app process's save with its own pull: p50 {result['app_save_p50_s'] * 1000:.0f} ms, "
        f"p95 {result['app_save_p95_s'] * 1000:.0f} ms"])
    return common.emit(args.json, text, result)

