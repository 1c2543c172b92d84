"""The manager's report: period presets over complete weeks and months, like-for-like comparisons, and a report
built from the page's own functions with small cells suppressed (hand-computed on a small clinic)."""

import datetime as dt
import io
import json

import pytest

from kdash import settings, vocab
from kdash.clinical import throughput
from kdash.present.views import throughput as throughput_view
from kdash.present import conference, export, report
from kdash.store import db
from tests.builders import Clinic

CFG = settings.load()
D = dt.date


@pytest.mark.parametrize("preset, today, period, grain", [
    ("last_month", D(2026, 12, 1), (D(2026, 11, 1), D(2026, 11, 30)), "week"),
    ("last_month", D(2026, 3, 15), (D(2026, 2, 1), D(2026, 2, 28)), "week"),
    ("last_month", D(2026, 1, 9), (D(2025, 12, 1), D(2025, 12, 31)), "week"),
    ("last_quarter", D(2026, 12, 1), (D(2026, 7, 1), D(2026, 9, 30)), "month"),
    ("last_quarter", D(2026, 2, 10), (D(2025, 10, 1), D(2025, 12, 31)), "month"),
    # 2026-12-01 is a Tuesday: the last complete week ended on Sunday 29 November
    ("last_12_weeks", D(2026, 12, 1), (D(2026, 9, 7), D(2026, 11, 29)), "week"),
    ("last_12_weeks", D(2026, 11, 30), (D(2026, 9, 7), D(2026, 11, 29)), "week"),
    ("this_month", D(2026, 3, 15), (D(2026, 3, 1), D(2026, 3, 14)), "week"),
])
def test_presets_end_before_today_on_whole_weeks_and_months(preset, today, period, grain):
    start, end, g = throughput.preset_period(preset, today)
    assert (start, end, g) == (*period, grain)
    assert end < today
    if preset == "last_12_weeks":
        assert start.weekday() == 0 and end.weekday() == 6 and (end - start).days + 1 == 84


def test_this_month_on_its_first_day_has_nothing_complete_yet():
    with pytest.raises(throughput.RangeError, match="no complete day"):
        throughput.preset_period("this_month", D(2026, 12, 1))


@pytest.mark.parametrize("preset, period, compare, expected", [
    ("last_month", (D(2026, 11, 1), D(2026, 11, 30)), "previous", (D(2026, 10, 1), D(2026, 10, 31))),
    ("last_month", (D(2026, 3, 1), D(2026, 3, 31)), "previous", (D(2026, 2, 1), D(2026, 2, 28))),
    ("last_month", (D(2026, 11, 1), D(2026, 11, 30)), "year", (D(2025, 11, 1), D(2025, 11, 30))),
    ("last_quarter", (D(2026, 7, 1), D(2026, 9, 30)), "previous", (D(2026, 4, 1), D(2026, 6, 30))),
    ("this_month", (D(2026, 3, 1), D(2026, 3, 30)), "previous", (D(2026, 2, 1), D(2026, 2, 28))),
    ("this_month", (D(2026, 3, 1), D(2026, 3, 14)), "previous", (D(2026, 2, 1), D(2026, 2, 14))),
    # weeks a year back are 52 weeks back: Monday to Sunday again
    ("last_12_weeks", (D(2026, 9, 7), D(2026, 11, 29)), "year", (D(2025, 9, 8), D(2025, 11, 30))),
    ("last_12_weeks", (D(2026, 9, 7), D(2026, 11, 29)), "previous", (D(2026, 6, 15), D(2026, 9, 6))),
    ("custom", (D(2026, 5, 11), D(2026, 5, 20)), "previous", (D(2026, 5, 1), D(2026, 5, 10))),
])
def test_comparison_periods_are_like_for_like(preset, period, compare, expected):
    assert throughput.comparison_period(*period, compare, preset) == expected


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """March 2026 (day 0 is Monday 2 March): 8 completed sessions and 2 no-shows; February: 4 completed (two
    patients started in January). Six patients with a MADRS baseline of 30 and a last score of 8 (two of them,
    responders and remitters) or 25 (four)."""
    c = Clinic(str(tmp_path_factory.mktemp("report") / "report.duckdb"))
    for i in range(6):
        pid, first = f"R{i}", -14 if i < 4 else -35          # 16 February or 26 January
        c.patient(pid)
        c.score(pid, first - 1, "MADRS", 30)
        c.session(pid, first)
        if i < 4:
            c.session(pid, 2)                   # 4 March
            c.session(pid, 9)                   # 11 March
        else:
            c.session(pid, 16, status="no_show")  # 18 March
        c.score(pid, 10, "MADRS", 8 if i < 2 else 25)
    yield c.con
    c.close()


@pytest.fixture(scope="module")
def march(clinic):
    return report.manager_report(clinic, CFG, D(2026, 3, 1), D(2026, 3, 31), "week", D(2026, 2, 1), D(2026, 2, 28),
                                 "last full month", "The period before")


def _row(table, measure):
    return table.df[table.df["Measure"] == measure].iloc[0].tolist()[1:]


def test_the_headline_figures_are_the_months_against_the_month_before(clinic, march):
    assert march.kind == "report" and "01 Mar 2026 to 31 Mar 2026" in march.title
    head = next(t for t in march.tables if t.title == "Headline figures")
    assert _row(head, "Completed sessions") == ["8", "4", "+4"]
    assert _row(head, "No-show rate") == ["20.0 %", "0.0 %", "+20.0 pts"]       # 2 of 10 bookings due


def test_the_report_agrees_with_the_page(clinic, march):
    page = throughput_view.page_view(clinic, CFG, start=D(2026, 3, 1), end=D(2026, 3, 31), grain="week",
                                compare_start=D(2026, 2, 1), compare_end=D(2026, 2, 28))
    weekly = next(t for t in march.tables if t.title == "Sessions per week")
    assert weekly.df["Completed"].sum() == page["totals"]["now"]["completed"] == 8
    assert page["totals"]["before"]["completed"] == 4


def test_small_cells_are_suppressed(march):
    outcomes = next(t for t in march.tables if t.title == "Outcomes by timepoint")
    last = outcomes.df[outcomes.df["Timepoint"] == "last observation"].iloc[0]
    assert last["Response (95 % CI)"] == "<5 of 6"              # 2 responders of 6 evaluable
    assert last["Remission (95 % CI)"] == "<5 of 6"
    assert not any("2 of 6" in line or "33" in line for line in march.summary)


def test_every_table_header_is_in_the_vocabulary(march):
    words = set(vocab.COLUMNS.values())
    for t in march.tables:
        assert set(t.df.columns) <= words, t.title


def test_the_report_files(march, tmp_path):
    from pptx import Presentation
    from pypdf import PdfReader
    pdf, deck = export.pdf(march), export.pptx(march)
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert report.FOOTER in text and conference.SYNTHETIC not in text
    assert 2 <= len(reader.pages) <= 1 + len(march.figures) // 2 + len(march.tables)
    slides = Presentation(io.BytesIO(deck)).slides
    assert len(slides) == 1 + len(march.figures) + sum(max(1, -(-len(t.df) // export.ROWS_PER_SLIDE)) for t in march.tables)


def test_a_report_from_a_demo_store_says_synthetic_on_every_page(clinic):
    from pypdf import PdfReader
    clinic.execute("INSERT OR REPLACE INTO meta VALUES ('demo', 'true')")
    try:
        pack = report.manager_report(clinic, CFG, D(2026, 3, 1), D(2026, 3, 31), "week", D(2026, 2, 1),
                                     D(2026, 2, 28), "last full month", "The period before")
    finally:
        clinic.execute("DELETE FROM meta WHERE key = 'demo'")
    assert pack.synthetic
    pages = PdfReader(io.BytesIO(export.pdf(pack))).pages
    assert all(conference.SYNTHETIC in p.extract_text() for p in pages)


def test_a_report_of_a_past_period_reads_nothing_recorded_after_it(demo_store, tmp_path):
    """Issue 29: the May report read June data. The report of a month made on the demo equals the same report made
    on a copy of the store from which everything after that month was removed (sessions, their vitals and side
    effects, scores, later consultations): every figure is computed as the record stood at the period's end."""
    import shutil
    from kdash.store import derived
    today = dt.date.today()
    start, end, grain = throughput.preset_period("last_month", today - dt.timedelta(days=62))   # two months back
    before_start, before_end = throughput.comparison_period(start, end, "previous", "last_month")

    def made(path):
        con = db.connect(path)
        try:
            derived.ensure_current(con, CFG)
            pack = report.manager_report(con, CFG, start, end, grain, before_start, before_end, "Last month",
                                         "The month before")
            return pack.summary, [(t.title, t.df.to_dict("records")) for t in pack.tables], \
                [(f.key, f.caption, json.dumps(f.fig, sort_keys=True, default=str)) for f in pack.figures]
        finally:
            con.close()
    whole = str(tmp_path / "whole.duckdb")
    shutil.copy(demo_store, whole)
    cut = str(tmp_path / "cut.duckdb")
    shutil.copy(demo_store, cut)
    con = db.connect(cut)
    with db.transaction(con) as cur:
        later = "SELECT session_id FROM sessions WHERE scheduled_at >= $end::DATE + 1"
        for table in ("vitals", "side_effects", "assessments"):
            cur.execute(f"DELETE FROM {table} WHERE session_id IN ({later})", {"end": end})
        cur.execute("DELETE FROM assessments WHERE assessed_on > $end", {"end": end})
        cur.execute("DELETE FROM vitals WHERE measured_at >= $end::DATE + 1", {"end": end})
        cur.execute("DELETE FROM sessions WHERE scheduled_at >= $end::DATE + 1", {"end": end})
        cur.execute("UPDATE patients SET consultation_date = NULL WHERE consultation_date > $end", {"end": end})
        removed = cur.execute("SELECT count(*) FROM sessions").fetchall()[0][0]
        derived.refresh(cur)
        derived.refresh_stamped(con, cur, CFG, None)
    con.close()
    assert removed < db.scalar(db.connect(whole, read_only=True), "SELECT count(*) FROM sessions")
    assert made(whole) == made(cut)


def test_the_report_command_makes_the_pages_report_and_a_landscape_pdf(clinic, tmp_path):
    """Issue 36: `report --period … --out FILE.pdf|.pptx [--landscape]`: the page's report from the command line,
    audited as the CLI's export; a landscape PDF is A4 across with a figure a page; bad input is one sentence."""
    import shutil
    import subprocess
    import sys
    from pypdf import PdfReader
    from tests.conftest import ROOT
    store = str(tmp_path / "cli.duckdb")
    clinic.execute("CHECKPOINT")
    shutil.copy(clinic.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
                .fetchone()[0], store)

    def kdash(*args):
        return subprocess.run([sys.executable, "-m", "kdash", *args, "--db", store], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    done = kdash("report", "--period", "custom", "--start", "2026-03-01", "--end", "2026-03-31",
                 "--out", str(tmp_path / "march.pdf"), "--landscape", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["start"] == "2026-03-01" and doc["compared_with"] == ["2026-01-29", "2026-02-28"]
    assert doc["tables"] == [t.title for t in report.manager_report(
        db.connect(store, read_only=True), CFG, D(2026, 3, 1), D(2026, 3, 31), "week", D(2026, 1, 29),
        D(2026, 2, 28), "custom dates", "The period before").tables]
    pages = PdfReader(str(tmp_path / "march.pdf")).pages
    assert all(p.mediabox.width > p.mediabox.height for p in pages)            # landscape
    assert len(pages) >= 1 + len(doc["figures"])                               # a figure a page
    con = db.connect(store, read_only=True)
    assert con.execute("SELECT role, detail FROM audit_log WHERE action = 'export_report_pdf'").fetchall() == [
        ("cli", doc["title"] + ", landscape")]
    con.close()
    for args, words in ((("--out", str(tmp_path / "r.txt")), "--out must end in .pdf or .pptx"),
                        (("--period", "custom", "--out", str(tmp_path / "r.pdf")), "needs --start and --end"),
                        (("--period", "custom", "--start", "2026-03-31", "--end", "2026-03-01",
                          "--out", str(tmp_path / "r.pdf")), "swap the dates")):
        bad = kdash("report", *args)
        assert bad.returncode == 2 and words in bad.stderr and "Traceback" not in bad.stderr
        assert not (tmp_path / "r.pdf").exists()
