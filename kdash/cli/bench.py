"""`bench`: the benchmarks (kdash.bench; not for CI)."""


from __future__ import annotations

from kdash.cli.common import positive


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="benchmark every page on a large store (not for CI)")
    p.add_argument("--patients", type=positive, default=100_000)
    p.add_argument("--db", help="store to build or reuse (default: a bench store under /tmp)")
    p.add_argument("--warm-runs", type=positive, default=5)
    p.add_argument("--cold-runs", type=positive, default=3, help="cold runs per page, reported as their median")
    p.add_argument("--page", action="append", help="only pages whose file name contains this (repeatable)")
    p.add_argument("--browser", action="store_true",
                   help="time click to idle in headless Chromium instead (needs requirements-dev.txt and chromium)")
    p.add_argument("--users", type=positive,
                   help="N people at once on one server for --seconds, while a clinician records sessions")
    p.add_argument("--seconds", type=positive, default=120, help="--users: how long")
    p.add_argument("--think", type=float, default=2.0, help="--users: mean pause between clicks, seconds")
    p.add_argument("--no-recorder", action="store_true", help="--users: without the clinician recording sessions")
    p.add_argument("--record-every", type=float, default=20.0,
                   help="--users: seconds between the recording clinician's saves (0: as fast as the form allows)")
    p.add_argument("--runs", type=positive, default=3, help="--browser: server starts, each a run of every role")
    p.add_argument("--role", action="append", choices=["clinician", "manager", "presenter", "admin"],
                   help="--browser: only these roles (repeatable; the first signs in first)")
    p.add_argument("--patient", default="P000001", help="--browser, --users: the patient ID clinicians open")
    p.add_argument("--network", action="store_true",
                   help="with a postgresql:// --db: bootstrap, pull, writer and save figures of a clinic network")
    p.add_argument("--json", action="store_true", help="--browser, --users, --network: the results as JSON on stdout "
                   "(table on stderr)")
    p.add_argument("--log-dir", help="--browser, --users: where the servers' logs go (default: beside the store)")


def cmd_bench(args) -> int:
    from kdash import bench
    return bench.main(args)


COMMANDS = {"bench": cmd_bench}
