"""Data quality from the command line (data-contract §11): every check with its count, up to 50 patients, the fix,
and each import source with the date of its last import."""

from __future__ import annotations

from kdash import settings
from kdash.cli.common import emit
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("quality", help="gaps in the record, who is affected and what to do (data-contract §11)")
    p.add_argument("--db")
    p.add_argument("--json", action="store_true")


def cmd_quality(args) -> int:
    from kdash.cli.common import audit_cli_export
    from kdash.clinical import quality
    path = settings.store_path(args.db)
    cfg = settings.load(path)
    con = db.connect(path, read_only=True)
    try:
        rows = quality.report(con, cfg)
    finally:
        con.close()
    found = [r for r in rows if r["check"] != "sources" and r["count"]]
    audit_cli_export(path, "export_quality", f"quality: {sum(r['count'] for r in found)} patients listed")
    emit(args, f"quality: {len(found)} of {len(rows) - 1} checks find something", rows)
    if not args.json:
        for r in rows:
            if r["check"] == "sources":
                for s in r["sources"]:
                    print(f"source  {s['source']}: last import {s['last_import']} ({s['imports']} import"
                          f"{'s' if s['imports'] != 1 else ''})")
                continue
            print(f"{r['count']:>7}  {r['check']:<26}{r['title']}")
    return 0


COMMANDS = {"quality": cmd_quality}
