"""`python -m kdash import`: validate every source first; write all of it in one transaction, or nothing.

CSV folders follow data-contract §3 (kdash/importers/csv_folder.py), FHIR R4 §4 (kdash/importers/fhir.py). A synthetic
demo store takes no import unless asked (into_demo): a clinic's data goes into a store made by `init`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import duckdb

from kdash.access import audit
from kdash.store import db, derived
from kdash.importers import csv_folder, fhir


def source_label(paths: list[str]) -> str:
    """Where an import came from, for the audit row and the Data quality page's sources: a folder by its name ("CSV
    folder clinic_export", "FHIR folder synthea"), files by their number only (a FHIR file is often named after its
    patient)."""
    parts, files = [], {"CSV": 0, "FHIR": 0}
    for text in paths:
        p = Path(text)
        if p.is_dir():
            kind = "CSV" if any((p / n).is_file() for n in csv_folder.ORDER) else "FHIR"
            parts.append(f"{kind} folder {p.resolve().name}")
        else:
            files["CSV" if p.suffix.lower() == ".csv" else "FHIR"] += 1
    parts += [f"{n} {kind} file{'s' if n > 1 else ''}" for kind, n in files.items() if n]
    return ", ".join(parts) or "nothing"


def _sources(paths: list[str]) -> tuple[dict[str, str], list[Path], list[str]]:
    files: dict[str, str] = {}
    fhir_paths: list[Path] = []
    problems = []
    for text in paths:
        p = Path(text)
        if not p.exists():
            problems.append(f"{text}: no such file or folder")
        elif p.is_dir() and any((p / n).is_file() for n in csv_folder.ORDER):
            try:
                found = csv_folder.read_folder(p)
            except csv_folder.FileProblem as exc:
                problems.append(str(exc))
                continue
            for name, body in found.items():
                if name in files:
                    problems.append(f"{text}/{name}: a second {name} in one import")
                files[name] = body
        elif p.suffix.lower() == ".csv" and p.name in csv_folder.FILES:
            try:
                files[p.name] = csv_folder.read_file(p)
            except csv_folder.FileProblem as exc:
                problems.append(str(exc))
        elif p.suffix.lower() in (".json", ".ndjson") or (p.is_dir() and any(
                f.suffix.lower() in (".json", ".ndjson") for f in p.rglob("*"))):
            fhir_paths.append(p)
        else:
            problems.append(f"{text}: neither a CSV import folder ({', '.join(csv_folder.ORDER)}) nor FHIR JSON")
    return files, fhir_paths, problems


DEMO_REFUSAL = ("this is a synthetic demo store: a clinic's own data goes into a store of its own, made with "
                "python -m kdash init --db PATH (to try an import on the demo anyway, pass --into-demo; the store "
                "stays marked as demo)")


def run(con: duckdb.DuckDBPyConnection, cfg: dict, paths: list[str], skip_invalid: bool = False,
        dry_run: bool = False, username: str | None = None, into_demo: bool = False,
        today: dt.date | None = None) -> csv_folder.Report:
    """Validate every source, then write all of it or nothing; `today` decides what is in the future (FHIR)."""
    if db.is_demo(con) and not into_demo:
        return csv_folder.Report(problems=[DEMO_REFUSAL])
    files, fhir_paths, source_problems = _sources(paths)
    fhir_rows, fhir_problems, skipped, fhir_rejected, fhir_report, fhir_losses = {}, [], {}, [], {}, []
    if fhir_paths:
        resources, fhir_problems = fhir.load(fhir_paths)
        fhir_rejected = [(p.split(": ", 1)[0], p.split(": ", 1)[-1]) for p in fhir_problems]   # whole files
        converted = fhir.convert(resources, today)
        fhir_rows, skipped = converted.rows, dict(converted.skipped)
        fhir_problems += converted.problems
        fhir_rejected += converted.rejected
        fhir_report, fhir_losses = converted.report(), converted.losses
    try:
        rep = csv_folder.validate(con, files, extra=fhir_rows) if files or fhir_rows else csv_folder.Report()
    except UnicodeDecodeError as exc:
        rep = csv_folder.Report(problems=[f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"])
    rep.problems[:0] = source_problems + fhir_problems
    rep.rejected_rows[:0] = [(where, 0, {}, reason) for where, reason in fhir_rejected]   # FHIR: named by file and id
    rep.skipped = skipped
    rep.fhir, rep.losses = fhir_report, fhir_losses
    if not files and not fhir_paths and not source_problems:
        rep.problems.append("nothing to import")
    _name_every_loss(rep)
    if rep.problems and not skip_invalid:
        return rep
    if dry_run:
        try:
            with db.transaction(con) as cur:
                rep.written = csv_folder.write(cur, rep)
                raise _Rollback
        except _Rollback:
            pass
        return rep
    with db.transaction(con) as cur:
        rep.written = csv_folder.write(cur, rep)
        touched = csv_folder.touched_patients(rep)
        if touched:
            derived.derive_phases(cur, cfg, touched)
            derived.refresh(cur, touched)
            derived.refresh_stamped(con, cur, cfg, touched)
        audit.log(cur, "import", username=username, detail=audit_detail(rep) + f"; source: {source_label(paths)}")
    return rep


def audit_detail(rep: csv_folder.Report) -> str:
    """What an import wrote and what it left out, for the audit log (counts and codes, never a patient)."""
    written = ", ".join(f"{t} +{n}" for t, n in rep.written.items() if n) or "nothing new"
    left = f"; {len(rep.rejected_rows)} rejected" if rep.rejected_rows else ""
    skipped = sum(rep.skipped.values())
    unmapped = ", ".join(f"{u['code']} ×{u['count']}" for u in (rep.fhir.get("unmapped") or [])[:5])
    return written + left + (f"; {skipped} FHIR resources skipped" if skipped else "") + \
        (f"; top unmapped codes {unmapped}" if unmapped else "")


def summary_lines(rep: csv_folder.Report, top: int = 5) -> list[str]:
    """The FHIR report in a few lines for the command line: what was kept from each kind of record, what was left
    out and why, and the codes kdash could not map."""
    if not rep.fhir:
        return []
    by_type: dict[str, dict] = {}
    for row in rep.fhir["by_resource"]:
        t = by_type.setdefault(row["resource"], {"imported": 0, "skipped": 0, "rejected": 0, "why": {}})
        t["imported"] += row["imported"]
        for outcome in ("skipped", "rejected"):
            for why, n in row[outcome].items():
                t[outcome] += n
                t["why"][why] = t["why"].get(why, 0) + n
    lines = []
    for kind, t in sorted(by_type.items()):
        why = "; ".join(f"{w} ×{n}" for w, n in sorted(t["why"].items(), key=lambda x: -x[1])[:3])
        lines.append(f"FHIR {kind}: {t['imported']} imported, {t['skipped']} skipped, {t['rejected']} rejected"
                     + (f" ({why})" if why else ""))
    if rep.fhir.get("unmapped"):
        lines.append("FHIR codes not mapped (most common): " + "; ".join(
            f"{u['resource']} {u['system']} {u['code']} '{u['display']}' ×{u['count']}"
            for u in rep.fhir["unmapped"][:top]))
    return lines


def _name_every_loss(rep: csv_folder.Report) -> None:
    """A problem that rejects more than a row (a file without a required column, a source that is not one) is a row
    of the rejects file too, so that file names everything an import with --skip-invalid left out."""
    covered = {f"{name}:{line}: {reason}" if line else f"{name}: {reason}" for name, line, _, reason in rep.rejected_rows}
    for problem in rep.problems:
        if problem not in covered:
            where, _, reason = problem.partition(": ")
            rep.rejected_rows.append((where.split(":")[0] if reason else "", 0, {}, reason or problem))


class _Rollback(Exception):
    """Raised inside the transaction of a dry run so that it rolls back."""


def write_rejects(rep: csv_folder.Report, path: Path) -> Path:
    """Every rejected row or resource: its file (and FHIR resource), line (blank for FHIR), reason and content; the
    owner's only (it holds patient rows), every cell escaped so a spreadsheet never runs it as a formula."""
    from kdash import vocab
    db.private_files()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "line", "reason", "row"])
        for name, line, raw, reason in rep.rejected_rows:
            out.writerow([vocab.csv_cell(x) for x in (name, line or "", reason,
                                                   "; ".join(f"{k}={v}" for k, v in raw.items()))])
    return path


def exit_code(rep: csv_folder.Report, skip_invalid: bool) -> int:
    """data-contract §2: 0 when everything asked for was imported (with --skip-invalid: the valid rows, the rest
    named and written to the rejects file); 1 when the import was rejected, or nothing could be imported at all."""
    if not rep.problems:
        return 0
    if not skip_invalid:
        return 1
    return 0 if any(rep.rows.get(t) for t in rep.rows) else 1
