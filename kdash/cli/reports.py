"""What the record says, as JSON or a pack: outcomes, eligibility, open flags, a case-conference pack."""


from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from kdash import scales, settings
from kdash.cli.common import ROUTES, UsageError, audit_cli_export, emit, iso_date, os_user
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("outcomes", help="clinic-wide response and remission (data-contract §6)")
    p.add_argument("--db")
    p.add_argument("--scale", default="MADRS", choices=scales.DEPRESSION_SCALES)
    p.add_argument("--route", default="all", choices=("all", *ROUTES))
    p.add_argument("--set", dest="analysis_set", default="itt", choices=["itt", "completers"])
    p.add_argument("--timepoints", action="store_true", help="the page's timepoints (sessions 2, 4, 6, end of "
                   "induction, last observation) for the cohort")
    p.add_argument("--time-to-response", action="store_true", help="the page's response curves and numbers at risk")
    for name in ("--start", "--end"):
        p.add_argument(name, type=iso_date, help="first session in the period (with --timepoints or "
                       "--time-to-response; default the page's)")
    for name in ("--diagnosis", "--age-band", "--sex", "--clinician"):
        p.add_argument(name)
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
    p = sub.add_parser("conference", help="a de-identified case-conference pack (PDF or PPTX)")
    p.add_argument("--db")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", help="one patient's ID")
    who.add_argument("--cohort", metavar="FILTERS",
                     help="'all' or key=value pairs joined by commas: route, set (itt|completers), scale, sex, "
                          "diagnosis, age_band, clinician, start, end")
    p.add_argument("--out", required=True, help="FILE.pdf or FILE.pptx")
    p.add_argument("--landscape", action="store_true", help="a PDF to project: A4 landscape, one figure a page")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("report", help="the manager's report of a period (PDF or PPTX), as the Throughput page makes it")
    p.add_argument("--db")
    p.add_argument("--period", default="last_month", choices=("last_month", "last_quarter", "last_12_weeks",
                                                               "this_month", "custom"))
    p.add_argument("--start", type=iso_date, help="with --period custom: the first day")
    p.add_argument("--end", type=iso_date, help="with --period custom: the last day (before today)")
    p.add_argument("--compare", default="previous", choices=("previous", "year"),
                   help="the period before of the same kind (default) or the same period a year earlier")
    p.add_argument("--grain", choices=("week", "month"), help="default: the period's own")
    p.add_argument("--route", default="all", choices=("all", *ROUTES))
    p.add_argument("--chair")
    p.add_argument("--clinician")
    p.add_argument("--out", required=True, help="FILE.pdf or FILE.pptx")
    p.add_argument("--landscape", action="store_true", help="a PDF to project: A4 landscape, one figure a page")
    p.add_argument("--json", action="store_true")


def _out_file(command: str, name: str) -> tuple[Path, str]:
    out = Path(name)
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("pdf", "pptx"):
        raise UsageError(f"{command}: --out must end in .pdf or .pptx, got {name!r}")
    if not out.parent.is_dir():
        raise UsageError(f"{command}: no folder {out.parent} to write {out.name} into")
    return out, kind


def _write_private(command: str, out: Path, data: bytes) -> None:
    try:
        db.private_files()
        out.write_bytes(data)
        os.chmod(out, 0o600)
    except OSError as exc:
        raise UsageError(f"{command}: cannot write {out}: {exc.strerror}") from None


def cmd_report(args) -> int:
    """The Throughput page's report from the command line: the same period rules, figures and suppression."""
    from kdash.access import audit
    from kdash.clinical import throughput
    from kdash.present import export, report
    out, kind = _out_file("report", args.out)
    today = dt.date.today()
    try:
        if args.period == "custom":
            if args.start is None or args.end is None:
                raise throughput.RangeError("--period custom needs --start and --end")
            start, end, grain = args.start, args.end, "week"
            throughput.check_range(start, end)
            if end >= today:
                raise throughput.RangeError(f"the period must end before today ({today:%Y-%m-%d}): today's "
                                            "sessions are not over")
        else:
            start, end, grain = throughput.preset_period(args.period, today)
    except throughput.RangeError as exc:
        raise UsageError(f"report: {exc}") from None
    compare_start, compare_end = throughput.comparison_period(start, end, args.compare, args.period)
    path = settings.store_path(args.db)
    con = db.connect(path, create=False)
    try:
        cfg = settings.load(path)
        pack = report.manager_report(con, cfg, start=start, end=end, grain=args.grain or grain,
                                     compare_start=compare_start, compare_end=compare_end,
                                     period_name=throughput.PRESETS[args.period].lower(),
                                     compare_name=throughput.COMPARISONS[args.compare], route=args.route,
                                     chair=args.chair, clinician=args.clinician)
        try:
            data = export.pdf(pack, projector=args.landscape) if kind == "pdf" else export.pptx(pack)
        except export.ExportError as exc:
            raise db.StoreError(f"report: {exc}") from None
        with db.transaction(con) as cur:
            audit.log(cur, f"export_report_{kind}", username=os_user(), role="cli",
                      detail=f"{pack.title}{', landscape' if args.landscape and kind == 'pdf' else ''}")
    finally:
        con.close()
    _write_private("report", out, data)
    emit(args, f"report: {pack.title}: {len(pack.figures)} figures, {len(pack.tables)} tables → {out}",
         {"title": pack.title, "file": str(out), "start": start.isoformat(), "end": end.isoformat(),
          "compared_with": [compare_start.isoformat(), compare_end.isoformat()],
          "figures": [f.key for f in pack.figures], "tables": [t.title for t in pack.tables],
          "refusal": pack.refusal})
    return 0


def cmd_outcomes(args) -> int:
    from kdash.clinical import outcomes
    if args.timepoints or args.time_to_response:
        return _outcome_views(args)
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        doc = outcomes.summary(con, settings.load(path), args.scale, args.route, args.analysis_set)
    except ValueError as exc:
        raise UsageError(f"outcomes: {exc}") from None
    finally:
        con.close()
    rate = "n/a" if doc["response_rate"] is None else f"{doc['response_rate']:.1%}"
    emit(args, f"outcomes: {doc['scale']} {doc['route']} {doc['set']}: {doc['n_evaluable']} evaluable of "
                f"{doc['n_treated']}, response {rate}", doc)
    return 0


def _outcome_views(args) -> int:
    from kdash.cli import pages
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        doc = pages.outcomes_views(args, path, settings.load(path), con)
    except ValueError as exc:
        raise UsageError(f"outcomes: {exc}") from None
    finally:
        con.close()
    emit(args, f"outcomes: {args.scale} {args.route} {args.analysis_set}: "
               + ", ".join(k for k in ("timepoints", "time_to_response") if k in doc), doc)
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
    audit_cli_export(path, "export_eligibility", f"eligibility: {len(docs)} patients", patient_id=args.patient)
    counts = {v: sum(d["verdict"] == v for d in docs) for v in ("eligible", "needs_review", "not_eligible")}
    summary = (f"eligibility: {docs[0]['patient_id']} {docs[0]['route']}: {docs[0]['verdict']}" if args.patient
               else f"eligibility: {len(docs)} patients: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    emit(args, summary, docs[0] if args.patient else docs)
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
    audit_cli_export(path, "export_flags", f"flags: {len(rows)} listed", patient_id=args.patient)
    still_open = [r for r in rows if r["acknowledged_at"] is None]
    by = {s: sum(r["severity"] == s for r in still_open) for s in ("urgent", "high", "caution", "review")}
    emit(args, f"flags: {len(still_open)} open (" + ", ".join(f"{n} {s}" for s, n in by.items()) + ")"
          + (f", {len(rows) - len(still_open)} acknowledged" if args.all else ""), rows)
    if not args.json:
        for r in rows:
            print(f"{r['severity']:<8}{r['patient_id']:<14}{r['rule']:<24}{r['evidence']}"
                  + (f"  [acknowledged {r['acknowledged_at'][:16]}]" if r["acknowledged_at"] else ""))
    return 0


def cmd_conference(args) -> int:
    from kdash.access import audit
    from kdash.clinical import patient
    from kdash.present import conference, export
    out, kind = _out_file("conference", args.out)
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
            data = export.pdf(pack, projector=args.landscape) if kind == "pdf" else export.pptx(pack)
        except export.ExportError as exc:
            raise db.StoreError(f"conference: {exc}") from None
        with db.transaction(con) as cur:
            audit.log(cur, f"export_{kind}", username=os_user(), role="cli", patient_id=args.patient,
                      detail=pack.title)
    finally:
        con.close()
    _write_private("conference", out, data)
    emit(args, f"conference: {pack.title}: {len(pack.figures)} figures, {len(pack.tables)} tables → {out}",
          {"title": pack.title, "file": str(out), "figures": [f.key for f in pack.figures],
           "tables": [t.title for t in pack.tables], "refusal": pack.refusal})
    return 0


COMMANDS = {"outcomes": cmd_outcomes, "eligibility": cmd_eligibility, "flags": cmd_flags, "conference": cmd_conference,
            "report": cmd_report}
