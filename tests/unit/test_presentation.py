"""Presentation that must not mislead (issue 36): each route's dose in its own unit, and an unknown trial history
never shown as zero."""

from __future__ import annotations

from kdash import settings
from kdash.present import conference
from tests.builders import Clinic, day

CFG = settings.load()


def test_esketamine_doses_are_milligrams_and_devices_never_mg_per_kg(tmp_path):
    c = Clinic(str(tmp_path / "p.duckdb"))
    c.patient("E1")
    for n, mg in ((0, 56), (3, 56), (7, 84)):
        c.session("E1", n, route="esketamine", dose_mg=mg, weight_kg=80.0)
    pack = conference.patient_pack(c.con, CFG, "E1", day(10))
    sessions = next(t for t in pack.tables if t.title == "Sessions").df
    assert "Devices (28 mg)" in sessions.columns
    assert list(sessions["Devices (28 mg)"]) == [2, 2, 3]
    assert sessions["mg/kg"].isna().all()
    timeline = next(f for f in pack.figures if f.key == "sessions")
    assert "mg/kg" not in str(timeline.fig["layout"]["yaxis"]["title"])
    c.close()


def test_an_iv_course_keeps_mg_per_kg(tmp_path):
    c = Clinic(str(tmp_path / "p.duckdb"))
    c.patient("I1")
    c.session("I1", 0, dose_mg=40.0, weight_kg=80.0)
    pack = conference.patient_pack(c.con, CFG, "I1", day(3))
    sessions = next(t for t in pack.tables if t.title == "Sessions").df
    assert list(sessions["mg/kg"]) == [0.5]
    c.close()


def test_no_trial_history_is_unknown_not_zero(tmp_path):
    c = Clinic(str(tmp_path / "p.duckdb"))
    c.patient("N1")
    c.session("N1", 0)
    pack = conference.patient_pack(c.con, CFG, "N1", day(3))
    text = " ".join(pack.summary)
    assert "trial history unknown" in text and "0 prior failed" not in text
    c.close()


def test_a_pdf_carries_no_creation_date_and_still_opens(tmp_path):
    import io
    import subprocess
    from pypdf import PdfReader
    from kdash.present import slip
    data = slip.slip_pdf("A clinic", "7QX2-K9MD", "http://x/checkin?code=7QX2-K9MD", "2026-12-05T10:00:00", ["PHQ9"])
    assert b"CreationDate" not in data and b"1969" not in data
    assert len(PdfReader(io.BytesIO(data), strict=True).pages) == 1       # the cross-reference table still holds
    (tmp_path / "s.pdf").write_bytes(data)
    info = subprocess.run(["pdfinfo", str(tmp_path / "s.pdf")], capture_output=True, text=True)
    assert info.returncode == 0 and "CreationDate" not in info.stdout and "Syntax Error" not in info.stderr


def test_the_patient_page_draws_scores_by_date_until_there_is_a_session(tmp_path):
    """Two scores a year apart and no session would stand at 'session 0' as one vertical line (issue 36)."""
    from kdash.present.views import patient as patient_view
    c = Clinic(str(tmp_path / "p.duckdb"))
    c.patient("U1")
    c.score("U1", 0, "PHQ9", total=12)
    c.score("U1", 365, "PHQ9", total=14)
    assert patient_view.view(c.con, CFG, "U1", day(400), by="auto")["by"] == "date"
    c.session("U1", 366)
    assert patient_view.view(c.con, CFG, "U1", day(400), by="auto")["by"] == "session"
    assert patient_view.view(c.con, CFG, "U1", day(400), by="date")["by"] == "date"      # the person's choice
    c.close()
