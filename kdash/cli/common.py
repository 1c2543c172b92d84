"""What every command shares: one-line usage errors, argument types, the summary-and-JSON output."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

ROUTES = ("iv_ketamine", "esketamine", "im_ketamine", "sc_ketamine", "oral_ketamine")


class UsageError(Exception):
    pass


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def emit(args, summary: str, document) -> None:
    print(summary, file=sys.stderr)
    if getattr(args, "json", False):
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")


def read_password(prompt: str) -> str:
    """From a prompt without echo on a terminal, else the first line of stdin: never an argument."""
    if sys.stdin.isatty():
        import getpass
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no password on stdin")
    return line.rstrip("\r\n")


def os_user() -> str:
    """The operating-system account running the command: the CLI's actor in the audit trail."""
    import getpass
    try:
        return getpass.getuser()
    except Exception:         # no name for this uid (a container): its number
        import os
        return f"uid {os.getuid()}"


def audit_cli_export(path: str, action: str, detail: str, patient_id: str | None = None) -> None:
    """Audit patient data the command line let out (a JSON document, a listing) with the operating-system user, as a
    page view is audited with the signed-in user."""
    from kdash.access import audit
    from kdash.store import db
    con = db.connect(path, create=False)
    try:
        with db.transaction(con) as cur:
            audit.log(cur, action, username=os_user(), role="cli", patient_id=patient_id, detail=detail)
    finally:
        con.close()
