"""The expected course from the command line (data-contract §10): one patient's, or the leave-one-out check."""

from __future__ import annotations

from kdash import settings
from kdash.cli.common import UsageError, audit_cli_export, emit
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("course", help="is a patient on track against the clinic's history (data-contract §10)")
    p.add_argument("--db")
    p.add_argument("--patient", help="the patient's ID")
    p.add_argument("--check", action="store_true", help="the leave-one-out check of clinical reference §9")
    p.add_argument("--json", action="store_true")


def cmd_course(args) -> int:
    from kdash.clinical import course, patient
    if bool(args.patient) == bool(args.check):
        raise UsageError("course: give --patient ID or --check")
    if args.patient and patient.id_problem(args.patient):
        raise UsageError(f"course: {patient.id_problem(args.patient)}")
    path = settings.store_path(args.db)
    cfg = settings.load(path)
    con = db.connect(path, read_only=True)
    try:
        if args.check:
            rows = course.check(con, cfg)
            emit(args, f"course --check: {len(rows)} route and session rows, leave-one-out on finished courses", rows)
            if not args.json:
                for r in rows:
                    print(f"{r['route']:<12} after {r['session']:>2}: {r['not_on_track']:>4} of {r['courses']:<5} "
                          f"not on track, {r['responded_anyway']} responded anyway; caught {r['caught']} of "
                          f"{r['non_responders']} non-responders  ({r['verdict']})")
            return 0
        doc = course.course(con, cfg, args.patient)
    finally:
        con.close()
    if doc is None:
        raise db.StoreError(f"no patient with ID {args.patient!r} in {path}")
    audit_cli_export(path, "export_course", "expected course", patient_id=args.patient)
    emit(args, f"course: {doc['patient_id']}: {doc['sentence']}", course.contract(doc))
    return 0


COMMANDS = {"course": cmd_course}
