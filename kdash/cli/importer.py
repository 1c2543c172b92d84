"""`import`: a CSV folder or FHIR files into the store, all or nothing (data-contract §3–4)."""


from __future__ import annotations

import sys
from pathlib import Path

from kdash import settings
from kdash.cli.common import emit
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("import", help="import a CSV folder (data-contract §3)")
    p.add_argument("--db")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows; write the rest to a rejects file")
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--rejects", default="import-rejects.csv", help="where --skip-invalid writes rejected rows")
    p.add_argument("--into-demo", action="store_true",
                   help="allow an import into a synthetic demo store, for a trial (the store stays marked demo)")
    p.add_argument("--json", action="store_true")


def cmd_import(args) -> int:
    from kdash.importers import importing
    path = settings.store_path(args.db)
    con = db.connect(path, create=False, derived=False)   # a PostgreSQL record: its base rows validate the import
    try:
        rep = importing.run(con, settings.load(path), args.sources, args.skip_invalid, args.dry_run,
                            into_demo=args.into_demo)
    finally:
        con.close()
    for problem in rep.problems:
        print(problem, file=sys.stderr)
    for warning in rep.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in importing.summary_lines(rep):
        print(line, file=sys.stderr)
    rejects = None
    if args.skip_invalid and rep.rejected_rows and not args.dry_run:
        try:
            rejects = str(importing.write_rejects(rep, Path(args.rejects)))
        except OSError as exc:
            print(f"warning: cannot write the rejects file {args.rejects}: {exc.strerror}", file=sys.stderr)
    found = {t: len(rows) for t, rows in rep.rows.items()}
    code = importing.exit_code(rep, args.skip_invalid)
    if rep.problems and (not args.skip_invalid or code):
        summary = f"import: rejected, {len(rep.problems)} problem(s); nothing written"
    else:
        verb = "would add" if args.dry_run else "added"
        skipped = f"{sum(rep.skipped.values()):,} resources (by type and reason above)" if rep.fhir else \
            ", ".join(f"{n} {kind}" for kind, n in sorted(rep.skipped.items()))
        summary = (f"import: {verb} " + (", ".join(f"{n} {t}" for t, n in rep.written.items() if n) or "nothing new")
                   + (f"; {len(rep.rejected_rows)} row(s) or resource(s) rejected and left out"
                      + (f", listed in {rejects}" if rejects else " (a dry run writes no rejects file)" if args.dry_run
                         else "") if rep.rejected_rows else "")
                   + (f"; not for kdash, counted and skipped: {skipped}" if skipped else ""))
    emit(args, summary, {"found": found, "written": rep.written, "problems": rep.problems,
                          "warnings": rep.warnings, "dry_run": args.dry_run, "rejects_file": rejects,
                          "rejected": len(rep.rejected_rows), "skipped": rep.skipped, "fhir": rep.fhir})
    return code


COMMANDS = {"import": cmd_import}
