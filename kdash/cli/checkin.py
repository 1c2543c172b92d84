"""Patient check-in from the command line (data-contract §8): a one-time code for one patient."""

from __future__ import annotations

import argparse

from kdash import settings
from kdash.cli.common import UsageError, emit, os_user
from kdash.store import db


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of hours, got {text!r}") from None
    if not 0 < value <= 168:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 168 hours, got {text}")
    return value


def add_parsers(sub) -> None:
    p = sub.add_parser("checkin", help="a one-time check-in code for one patient (data-contract §8)")
    p.add_argument("--db")
    p.add_argument("--patient", required=True, help="the patient's ID")
    p.add_argument("--forms", help="PHQ9, GAD7 or PHQ9,GAD7 (default: the clinic's [checkin] forms)")
    p.add_argument("--hours", type=_hours, help="how long the code is valid (default: the clinic's [checkin] hours)")
    p.add_argument("--json", action="store_true")


def cmd_checkin(args) -> int:
    from kdash.clinical import checkin, patient
    if patient.id_problem(args.patient):
        raise UsageError(f"checkin: {patient.id_problem(args.patient)}")
    path = settings.store_path(args.db)
    cfg = settings.load(path)
    con = db.connect(path)
    try:
        try:
            out = checkin.issue(con, cfg, args.patient, args.forms, args.hours, by=os_user())
        except checkin.CheckinError as exc:
            raise UsageError(f"checkin: {exc}") from None
    finally:
        con.close()
    emit(args, f"checkin: code for {out['patient_id']} ({', '.join(out['forms'])}), valid until "
               f"{out['expires_at'].replace('T', ' ')[:16]}", out)
    if not args.json:
        print(f"{out['code']}  {out['url']}")
    return 0


COMMANDS = {"checkin": cmd_checkin}
