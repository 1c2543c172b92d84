"""The kdash command line (data-contract §2): one module per command group, each adding its own parsers and
commands; `python -m kdash` (kdash/__main__.py) only dispatches here. One-line summary on stderr, JSON on stdout
with --json; never a traceback."""

from __future__ import annotations

import argparse
import os
import sys

from kdash.cli import accounts, bench, checkin, course, importer, pages, quality, reports, store
from kdash.cli.common import ROUTES, Parser, UsageError  # noqa: F401 - the CLI's names, as tests and tools use them
from kdash.store import db

GROUPS = (store, importer, reports, pages, course, quality, checkin, accounts, bench)       # the order of `python -m kdash --help`
ORDER = ("init", "demo", "info", "outcomes", "throughput", "side-effects", "roster", "eligibility", "flags", "course",
         "quality", "checkin", "import", "conference", "report", "users", "backup",
         "restore", "settings", "bench")
COMMANDS = {name: cmd for group in GROUPS for name, cmd in group.COMMANDS.items()}


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="python -m kdash", description="kdash: decision support for ketamine clinics")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(sub)
    # --help and the usage line list the commands in one order, whichever group adds them
    ordered = {name: sub.choices[name] for name in ORDER}
    sub.choices.clear()
    sub.choices.update(ordered)
    sub._choices_actions.sort(key=lambda a: ORDER.index(a.dest))
    return top


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, db.StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # e.g. piped into `head`: not an error worth a traceback
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback; the reason stays one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
