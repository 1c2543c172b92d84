"""The kdash command line (data-contract §2). One-line summary on stderr, JSON on stdout with --json."""

from __future__ import annotations

import argparse
from pathlib import Path
import datetime as dt
import json
import os
import sys
import time

from kdash import scales, settings
from kdash.store import db

ROUTES = ("iv_ketamine", "esketamine", "im_ketamine", "sc_ketamine", "oral_ketamine")


class UsageError(Exception):
    pass


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="python -m kdash", description="kdash: decision support for ketamine clinics")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("init", help="create an empty store for a clinic's own data, with its first administrator")
    p.add_argument("--db")
    p.add_argument("--admin", help="the first administrator's user name (asked for when not given on a terminal; "
                                   "default admin)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("demo", help="build a synthetic demo clinic store")
    p.add_argument("--db", help="store path (default $KDASH_DB or data/kdash.duckdb)")
    p.add_argument("--patients", type=_positive, default=400)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=_date, default=None, help="the demo's 'today' (default: today)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("info", help="store path, schema version and counts")
    p.add_argument("--db")
    p.add_argument("--json", action="store_true")
    p.add_argument("--calibration", action="store_true", help="add the demo's figures against their targets")

    p = sub.add_parser("outcomes", help="clinic-wide response and remission (data-contract §6)")
    p.add_argument("--db")
    p.add_argument("--scale", default="MADRS", choices=scales.DEPRESSION_SCALES)
    p.add_argument("--route", default="all", choices=("all", *ROUTES))
    p.add_argument("--set", dest="analysis_set", default="itt", choices=["itt", "completers"])
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eligibility", help="the eligibility checklist (data-contract §5)")
    p.add_argument("--db")
    p.add_argument("--patient", help="one patient's ID (default: every patient, as a JSON list)")
    p.add_argument("--route", choices=("iv_ketamine", "esketamine"), help="default: the patient's own route")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("flags", help="open safety flags, most severe and oldest first (data-contract §9)")
    p.add_argument("--db")
    p.add_argument("--patient", help="one patient's ID (default: every patient)")
    p.add_argument("--all", action="store_true", help="flags closed by an acknowledgement too")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("import", help="import a CSV folder (data-contract §3)")
    p.add_argument("--db")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows; write the rest to a rejects file")
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--rejects", default="import-rejects.csv", help="where --skip-invalid writes rejected rows")
    p.add_argument("--into-demo", action="store_true",
                   help="allow an import into a synthetic demo store, for a trial (the store stays marked demo)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("conference", help="a de-identified case-conference pack (PDF or PPTX)")
    p.add_argument("--db")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", help="one patient's ID")
    who.add_argument("--cohort", metavar="FILTERS",
                     help="'all' or key=value pairs joined by commas: route, set (itt|completers), scale, sex, "
                          "diagnosis, age_band, clinician, start, end")
    p.add_argument("--out", required=True, help="FILE.pdf or FILE.pptx")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("users", help="local accounts: add, list, link, disable, enable, reset-password")
    users_sub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    q = users_sub.add_parser("add", help="create an account (password from a prompt, or stdin when piped)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("clinician", "manager", "presenter", "admin"))
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    q = users_sub.add_parser("list", help="every account, without password hashes")
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    q = users_sub.add_parser("link", help="link an account to a clinician name of the record, for 'my patients'")
    q.add_argument("name")
    q.add_argument("--clinician", required=True, help="as in patients.csv's clinician column; '' to unlink")
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    for action, text in (("disable", "stop an account signing in"), ("enable", "let a disabled account sign in"),
                         ("reset-password", "set a new password (prompt or stdin) and unlock the account")):
        q = users_sub.add_parser(action, help=text)
        q.add_argument("name")
        q.add_argument("--db")
        q.add_argument("--json", action="store_true")

    p = sub.add_parser("backup", help="a consistent snapshot of a store: Parquet files, manifest, checksums")
    p.add_argument("--db")
    p.add_argument("--out", required=True, help="a new (or empty) folder")
    p.add_argument("--passphrase-file", help="encrypt the backup with the passphrase in this file "
                   "(or set KDASH_BACKUP_PASSPHRASE)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", help="a new store from a backup folder (checksums checked first)")
    p.add_argument("folder")
    p.add_argument("--db", required=True, help="the new store's path (must not exist)")
    p.add_argument("--passphrase-file", help="the passphrase of an encrypted backup (or KDASH_BACKUP_PASSPHRASE)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("settings", help="a PostgreSQL store's clinic settings, shared by every replica")
    p.add_argument("--db")
    p.add_argument("--set", metavar="FILE", help="keep this TOML settings file in the record (every replica uses it)")
    p.add_argument("--clear", action="store_true", help="drop the record's settings (back to the defaults)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="benchmark every page on a large store (not for CI)")
    p.add_argument("--patients", type=_positive, default=100_000)
    p.add_argument("--db", help="store to build or reuse (default: a bench store under /tmp)")
    p.add_argument("--warm-runs", type=_positive, default=5)
    p.add_argument("--cold-runs", type=_positive, default=3, help="cold runs per page, reported as their median")
    p.add_argument("--page", action="append", help="only pages whose file name contains this (repeatable)")
    p.add_argument("--browser", action="store_true",
                   help="time click to idle in headless Chromium instead (needs requirements-dev.txt and chromium)")
    p.add_argument("--users", type=_positive,
                   help="N people at once on one server for --seconds, while a clinician records sessions")
    p.add_argument("--seconds", type=_positive, default=120, help="--users: how long")
    p.add_argument("--think", type=float, default=2.0, help="--users: mean pause between clicks, seconds")
    p.add_argument("--no-recorder", action="store_true", help="--users: without the clinician recording sessions")
    p.add_argument("--record-every", type=float, default=20.0,
                   help="--users: seconds between the recording clinician's saves (0: as fast as the form allows)")
    p.add_argument("--runs", type=_positive, default=3, help="--browser: server starts, each a run of every role")
    p.add_argument("--role", action="append", choices=["clinician", "manager", "presenter", "admin"],
                   help="--browser: only these roles (repeatable; the first signs in first)")
    p.add_argument("--patient", default="P000001", help="--browser, --users: the patient ID clinicians open")
    p.add_argument("--network", action="store_true",
                   help="with a postgresql:// --db: bootstrap, pull, writer and save figures of a clinic network")
    p.add_argument("--json", action="store_true", help="--browser, --users, --network: the results as JSON on stdout "
                   "(table on stderr)")
    p.add_argument("--log-dir", help="--browser, --users: where the servers' logs go (default: beside the store)")
    return top


def _emit(args, summary: str, document) -> None:
    print(summary, file=sys.stderr)
    if getattr(args, "json", False):
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")


def cmd_init(args) -> int:
    from kdash.access import users
    from kdash.store import clinic_store
    path = settings.store_path(args.db)
    if clinic_store.exists(path):
        raise db.StoreError(f"init: {path} exists already; init makes a new store (choose another --db)")
    cfg = settings.load(path)
    name = args.admin
    if name is None:
        name = (input("First administrator's user name [admin]: ").strip() or "admin") if sys.stdin.isatty() \
            else "admin"
    try:   # everything that can be wrong is checked before the store exists, so a refusal leaves no file
        name = users.check_name(name)
        password = _read_password(f"Password for {name}: ")
        users.check_password(password, cfg, name)
    except users.UserError as exc:
        raise UsageError(f"init: {exc}") from None
    con = clinic_store.create(path, cfg)
    try:
        users.add(con, cfg, name, "admin", password, by=f"cli:{os.environ.get('USER', 'unknown')}")
    finally:
        con.close()
    _emit(args, f"init: created {path} (empty, schema {db.SCHEMA_VERSION}) with administrator {name}; next: "
                f"python -m kdash import --db {path} FOLDER", {"store": path, "schema_version": db.SCHEMA_VERSION,
                                                             "admin": name})
    return 0


def cmd_demo(args) -> int:
    from kdash.demo import build as demo
    path = settings.store_path(args.db)
    started = time.perf_counter()
    counts = demo.build(path, args.patients, args.seed, args.as_of)
    seconds = time.perf_counter() - started
    _emit(args, f"demo: built {path} with {counts['patients']:,} patients and {counts['sessions']:,} "
                f"sessions in {seconds:.1f} s (seed {args.seed})", {"store": path, "seconds": round(seconds, 2), **counts})
    return 0


def cmd_info(args) -> int:
    from kdash.clinical import store_info
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        doc = store_info.info(con, path)
        if args.calibration:
            doc["calibration"] = store_info.calibration(con, settings.load(path))
    finally:
        con.close()
    s = doc["sessions"]
    from kdash.store import pg
    doc["exposure"] = [] if pg.is_url(path) else db.exposure(path)
    for warning in doc["exposure"]:
        print(f"warning: {warning}", file=sys.stderr)
    _emit(args, f"info: {path}: schema {doc['schema_version']}, {doc['patients']:,} patients, "
                f"{sum(s.values()):,} sessions ({s['completed']:,} completed)", doc)
    if args.calibration and not args.json:
        json.dump(doc["calibration"], sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def cmd_outcomes(args) -> int:
    from kdash.clinical import outcomes
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        doc = outcomes.summary(con, settings.load(path), args.scale, args.route, args.analysis_set)
    except ValueError as exc:
        raise UsageError(f"outcomes: {exc}") from None
    finally:
        con.close()
    rate = "n/a" if doc["response_rate"] is None else f"{doc['response_rate']:.1%}"
    _emit(args, f"outcomes: {doc['scale']} {doc['route']} {doc['set']}: {doc['n_evaluable']} evaluable of "
                f"{doc['n_treated']}, response {rate}", doc)
    return 0


def cmd_eligibility(args) -> int:
    from kdash.clinical import eligibility, patient
    path = settings.store_path(args.db)
    if args.patient is not None and patient.id_problem(args.patient):
        raise UsageError(f"eligibility: {patient.id_problem(args.patient)}")
    con = db.connect(path, read_only=True)
    try:
        cfg = settings.load(path)
        today = dt.date.today()
        if args.patient is None:
            results = eligibility.checklist(con, cfg, today, route=args.route)
        else:
            results = eligibility.checklist_for(con, cfg, today, [args.patient], args.route)
            if not results:
                raise db.StoreError(f"no patient with ID {args.patient!r} in {path}")
    finally:
        con.close()
    docs = [eligibility.to_contract(r) for r in results]
    counts = {v: sum(d["verdict"] == v for d in docs) for v in ("eligible", "needs_review", "not_eligible")}
    summary = (f"eligibility: {docs[0]['patient_id']} {docs[0]['route']}: {docs[0]['verdict']}" if args.patient
               else f"eligibility: {len(docs)} patients: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    _emit(args, summary, docs[0] if args.patient else docs)
    return 0


def cmd_flags(args) -> int:
    from kdash.clinical import patient, worklist
    if args.patient is not None and patient.id_problem(args.patient):
        raise UsageError(f"flags: {patient.id_problem(args.patient)}")
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        if args.patient is not None and not db.scalar(con, "SELECT count(*) FROM patients WHERE patient_id = $p",
                                                      {"p": args.patient}):
            raise db.StoreError(f"no patient with ID {args.patient!r} in {path}")
        rows = worklist.contract_rows(con, settings.load(path), dt.date.today(),
                                      None if args.patient is None else [args.patient], args.all)
    finally:
        con.close()
    still_open = [r for r in rows if r["acknowledged_at"] is None]
    by = {s: sum(r["severity"] == s for r in still_open) for s in ("urgent", "high", "caution", "review")}
    _emit(args, f"flags: {len(still_open)} open (" + ", ".join(f"{n} {s}" for s, n in by.items()) + ")"
          + (f", {len(rows) - len(still_open)} acknowledged" if args.all else ""), rows)
    if not args.json:
        for r in rows:
            print(f"{r['severity']:<8}{r['patient_id']:<14}{r['rule']:<24}{r['evidence']}"
                  + (f"  [acknowledged {r['acknowledged_at'][:16]}]" if r["acknowledged_at"] else ""))
    return 0


def cmd_import(args) -> int:
    from pathlib import Path
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
    _emit(args, summary, {"found": found, "written": rep.written, "problems": rep.problems,
                          "warnings": rep.warnings, "dry_run": args.dry_run, "rejects_file": rejects,
                          "rejected": len(rep.rejected_rows), "skipped": rep.skipped, "fhir": rep.fhir})
    return code


def cmd_conference(args) -> int:
    from pathlib import Path
    from kdash.access import audit
    from kdash.clinical import patient
    from kdash.present import conference, export
    out = Path(args.out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("pdf", "pptx"):
        raise UsageError(f"conference: --out must end in .pdf or .pptx, got {args.out!r}")
    if not out.parent.is_dir():
        raise UsageError(f"conference: no folder {out.parent} to write {out.name} into")
    if args.patient is not None and patient.id_problem(args.patient):
        raise UsageError(f"conference: {patient.id_problem(args.patient)}")
    try:
        filters = None if args.cohort is None else conference.parse_cohort(args.cohort)
    except ValueError as exc:
        raise UsageError(f"conference: {exc}") from None
    path = settings.store_path(args.db)
    con = db.connect(path, create=False)    # may upgrade the store (the pseudonym key comes with schema 8)
    try:
        cfg = settings.load(path)
        if filters is None:
            pack = conference.patient_pack(con, cfg, args.patient, dt.date.today())
            if pack is None:
                raise db.StoreError(f"no patient with ID {args.patient!r} in {path}")
        else:
            pack = conference.cohort_pack(con, cfg, **filters)
        try:
            data = export.pdf(pack) if kind == "pdf" else export.pptx(pack)
        except export.ExportError as exc:
            raise db.StoreError(f"conference: {exc}") from None
        with db.transaction(con) as cur:
            audit.log(cur, f"export_{kind}", username=os.environ.get("USER"), role="cli", patient_id=args.patient,
                      detail=pack.title)
    finally:
        con.close()
    try:
        db.private_files()
        out.write_bytes(data)
        os.chmod(out, 0o600)
    except OSError as exc:
        raise UsageError(f"conference: cannot write {out}: {exc.strerror}") from None
    _emit(args, f"conference: {pack.title}: {len(pack.figures)} figures, {len(pack.tables)} tables → {out}",
          {"title": pack.title, "file": str(out), "figures": [f.key for f in pack.figures],
           "tables": [t.title for t in pack.tables], "refusal": pack.refusal})
    return 0


def _read_password(prompt: str) -> str:
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


def cmd_users(args) -> int:
    from kdash.access import users
    path = settings.store_path(args.db)
    con = db.connect(path, create=False, derived=False)
    try:
        cfg = settings.load(path)
        by = f"cli:{os.environ.get('USER', 'unknown')}"
        try:
            if args.action == "list":
                table = users.listing(con)
                rows = [{**r, "locked_until": None if r["locked_until"] is None or r["locked_until"] != r["locked_until"]
                         else str(r["locked_until"]), "created_at": str(r["created_at"])}
                        for r in table.to_dict("records")]
                if not args.json:
                    for r in rows:
                        state = "disabled" if r["disabled"] else ("locked" if r["locked_until"] else "active")
                        print(f"{r['username']:<24}{r['role']:<12}{state}")
                _emit(args, f"users: {len(rows)} account(s)", rows)
                return 0
            if args.action != "list":
                users.check_name(args.name)          # before asking for a password
            if args.action == "link":
                linked = users.link_clinician(con, args.name, args.clinician, by=by)
                _emit(args, f"users: {args.name} linked to {linked!r}" if linked else f"users: {args.name} unlinked",
                      {"username": args.name, "clinician": linked})
            elif args.action == "add":
                name = users.add(con, cfg, args.name, args.role, _read_password("Password: "), by=by)
                _emit(args, f"users: added {name} as {args.role}", {"username": name, "role": args.role})
            elif args.action in ("disable", "enable"):
                users.set_disabled(con, args.name, args.action == "disable", by=by)
                _emit(args, f"users: {args.name} {args.action}d", {"username": args.name, "disabled": args.action == "disable"})
            else:
                users.reset_password(con, cfg, args.name, _read_password("New password: "), by=by)
                _emit(args, f"users: new password set for {args.name}; the account is unlocked", {"username": args.name})
        except users.UserError as exc:
            print(f"error: users: {exc}", file=sys.stderr)
            return 1
    finally:
        con.close()
    return 0


def _passphrase(args) -> str | None:
    """From --passphrase-file (its first line) or KDASH_BACKUP_PASSPHRASE; never from the command line itself,
    where other users of the machine could read it."""
    if args.passphrase_file:
        try:
            return Path(args.passphrase_file).read_text("utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the passphrase file {args.passphrase_file}: "
                             f"{getattr(exc, 'strerror', None) or 'empty or not text'}") from None
    return os.environ.get("KDASH_BACKUP_PASSPHRASE") or None


def cmd_backup(args) -> int:
    from kdash.store import backup, pg, pg_ops
    path = settings.store_path(args.db)
    if pg.is_url(path):
        manifest = pg_ops.backup_record(path, args.out, _passphrase(args))
    else:
        manifest = backup.backup(path, args.out, _passphrase(args))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    _emit(args, f"backup: {len(manifest['tables'])} tables, {rows:,} rows → {args.out}", manifest)
    return 0


def cmd_restore(args) -> int:
    from kdash.store import backup, pg, pg_ops
    if pg.is_url(args.db):
        manifest = pg_ops.restore_record(args.folder, args.db, _passphrase(args))
    else:
        manifest = backup.restore(args.folder, args.db, _passphrase(args))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    _emit(args, f"restore: {len(manifest['tables'])} tables, {rows:,} rows checked → {args.db}"
                + ("" if manifest.get("authenticated", True) else
                   " (the manifest is not authenticated: set KDASH_BACKUP_KEY when backing up, or use a passphrase)"),
          manifest)
    return 0


def cmd_settings(args) -> int:
    """Show, set or clear the clinic settings a PostgreSQL record holds (an embedded store reads settings.toml
    beside it, or KDASH_SETTINGS)."""
    from kdash.access import audit
    from kdash.store import pg
    path = settings.store_path(args.db)
    if not pg.is_url(path):
        raise UsageError("settings: only a PostgreSQL store keeps its settings in the record; an embedded store "
                         "reads settings.toml beside it, or the file named by KDASH_SETTINGS")
    text = None
    if args.set:
        try:
            text = Path(args.set).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"settings: cannot read {args.set}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            settings.check_text(text)
        except ValueError as exc:
            raise UsageError(f"settings: {args.set}: {exc}") from None
    con = db.connect(path, create=False, derived=False)
    try:
        if args.set or args.clear:
            with db.transaction(con) as cur:
                if args.clear:
                    cur.execute("DELETE FROM meta WHERE key = $k", {"k": settings.RECORD_KEY})
                else:
                    cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": settings.RECORD_KEY, "v": text})
                audit.log(cur, "settings_changed", username=os.environ.get("USER"), role="cli",
                          detail="cleared" if args.clear else args.set)
        current = db.meta(con, settings.RECORD_KEY) if not (args.set or args.clear) else text
    finally:
        db.close(con)
    verb = "cleared" if args.clear else "set from " + args.set if args.set else "shown"
    _emit(args, f"settings: {verb}; every replica derives with them at its next pull", {"settings": current})
    if not args.json and current and not (args.set or args.clear):
        print(current)
    return 0


def cmd_bench(args) -> int:
    from kdash.bench import pages as bench
    return bench.main(args)


COMMANDS = {"init": cmd_init, "demo": cmd_demo, "info": cmd_info, "outcomes": cmd_outcomes, "eligibility": cmd_eligibility,
            "flags": cmd_flags,
            "import": cmd_import, "conference": cmd_conference, "users": cmd_users, "backup": cmd_backup,
            "restore": cmd_restore, "settings": cmd_settings, "bench": cmd_bench}


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


if __name__ == "__main__":
    sys.exit(main())
