"""The command line (data-contract §2): JSON shapes, exit codes, one-line reasons, no tracebacks."""

import json
import subprocess
import sys

from kdash.store import db
from tests.conftest import ROOT


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kdash", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=120)


def test_demo_then_info_json(tmp_path):
    path = str(tmp_path / "c.duckdb")
    built = run("demo", "--db", path, "--patients", "50", "--seed", "3")
    assert built.returncode == 0, built.stderr
    assert built.stderr.count("\n") == 1 and "50 patients" in built.stderr
    out = run("info", "--db", path, "--json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["schema_version"] == db.SCHEMA_VERSION and doc["patients"] == 50
    assert set(doc["sessions"]) >= {"completed", "cancelled", "no_show"}
    assert doc["assessments"]["MADRS"] > 0 and doc["assessments"]["PHQ9"] > 0
    assert doc["vitals"] > 0 and doc["side_effects"] >= 0


def test_outcomes_json_matches_the_contract_keys(demo_store):
    out = run("outcomes", "--db", demo_store, "--scale", "MADRS", "--set", "itt", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"scale", "route", "set", "n_treated", "n_evaluable", "responders", "response_rate",
                        "response_ci95", "remitters", "remission_rate", "remission_ci95", "mean_baseline",
                        "mean_change"}
    low, high = doc["response_ci95"]
    assert low <= doc["response_rate"] <= high


def _one_line_failure(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    return result.stderr


def test_bad_input_gets_one_line_reasons(tmp_path):
    assert "at least 1" in _one_line_failure(run("demo", "--db", str(tmp_path / "x.duckdb"), "--patients", "-3"))
    assert "whole number" in _one_line_failure(run("demo", "--db", str(tmp_path / "x.duckdb"), "--patients", "many"))
    junk = tmp_path / "junk.duckdb"
    junk.write_text("hello")
    assert "not a kdash store" in _one_line_failure(run("info", "--db", str(junk)))
    assert "no store at" in _one_line_failure(run("info", "--db", str(tmp_path / "none.duckdb")))
    assert "folder" in _one_line_failure(run("demo", "--db", str(tmp_path)))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "cannot" in _one_line_failure(run("demo", "--db", str(blocker / "sub" / "x.duckdb")))
    assert "invalid choice: 'NOPE'" in _one_line_failure(run("outcomes", "--db", str(junk), "--scale", "NOPE"))
    assert "invalid choice" in _one_line_failure(run("frobnicate"))


def test_conference_writes_a_pdf_and_a_pptx_and_audits_the_export(tmp_path):
    path = str(tmp_path / "c.duckdb")
    assert run("demo", "--db", path, "--patients", "40", "--seed", "5").returncode == 0
    con = db.connect(path)
    pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' LIMIT 1").fetchone()[0]
    con.close()
    pdf = run("conference", "--db", path, "--patient", pid, "--out", str(tmp_path / "case.pdf"), "--json")
    assert pdf.returncode == 0, pdf.stderr
    doc = json.loads(pdf.stdout)
    assert doc["title"].startswith("Case ") and pid not in pdf.stdout + pdf.stderr
    assert (tmp_path / "case.pdf").read_bytes()[:5] == b"%PDF-"
    deck = run("conference", "--db", path, "--cohort", "route=all,set=itt", "--out", str(tmp_path / "cohort.pptx"))
    assert deck.returncode == 0, deck.stderr
    assert (tmp_path / "cohort.pptx").read_bytes()[:2] == b"PK"
    con = db.connect(path)
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY logged_at").fetchall()]
    con.close()
    assert actions[-2:] == ["export_pdf", "export_pptx"]


def test_conference_bad_input_gets_one_line(tmp_path):
    path = str(tmp_path / "c.duckdb")
    assert run("demo", "--db", path, "--patients", "10").returncode == 0
    for args, reason in [(["--patient", "NOPE1", "--out", str(tmp_path / "x.pdf")], "no patient with ID 'NOPE1'"),
                         (["--patient", "P000001", "--out", str(tmp_path / "x.docx")], "must end in .pdf or .pptx"),
                         (["--cohort", "colour=red", "--out", str(tmp_path / "x.pdf")], "unknown cohort filter"),
                         (["--patient", "P000001", "--cohort", "all", "--out", str(tmp_path / "x.pdf")], "not allowed"),
                         (["--cohort", "all", "--out", str(tmp_path / "no" / "x.pdf")], "no folder")]:
        out = run("conference", "--db", path, *args)
        assert out.returncode != 0 and reason in out.stderr, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_flags_json_lists_open_flags_and_with_all_the_acknowledged(tmp_path):
    """data-contract §9: open flags, most severe and oldest first; --all adds those closed by an acknowledgement;
    a later lower suicide answer does not close the urgent flag (clinical-reference §4)."""
    import datetime as dt
    from kdash import settings
    from kdash.clinical import worklist
    from tests.builders import Clinic, day
    today = dt.date.today()
    c = Clinic(str(tmp_path / "f.duckdb"))

    def n(days_ago: int) -> int:      # the builders count days from their own day 0
        return (today - dt.timedelta(days=days_ago) - day(0)).days
    for pid in ("A", "B"):
        c.patient(pid)
        s = c.session(pid, n(10))
        c.bp(pid, s, -5, 150, 95)                                          # caution
    c.score("A", n(9), "PHQ9", items=[2] * 8 + [1])                        # urgent
    c.score("A", n(2), "PHQ9", items=[2] * 8 + [0])                        # later, lower: new evidence
    worklist.acknowledge(c.con, settings.load(), "B", "predose_bp", settings.load()["flags"]["actions"][0], None,
                         by="dr.b", today=today)
    c.close()
    out = run("flags", "--db", c.path, "--json")
    assert out.returncode == 0, out.stderr
    flags = json.loads(out.stdout)
    assert [(f["patient_id"], f["rule"], f["severity"]) for f in flags] == [("A", "suicidal_thoughts", "urgent"),
                                                                           ("A", "predose_bp", "caution")]
    assert set(flags[0]) >= {"patient_id", "rule", "severity", "evidence", "source", "raised_at", "acknowledged_at"}
    assert flags[0]["evidence"] == "PHQ-9 item 9 = 1" and flags[0]["newer_evidence"].startswith("later: PHQ-9 item 9 = 0")
    assert "2 open (1 urgent, 0 high, 1 caution, 0 review)" in out.stderr
    every = json.loads(run("flags", "--db", c.path, "--all", "--json").stdout)
    acked = [f for f in every if f["acknowledged_at"]]
    assert [(f["patient_id"], f["rule"], f["acknowledged_by"]) for f in acked] == [("B", "predose_bp", "dr.b")]
    one = json.loads(run("flags", "--db", c.path, "--patient", "B", "--json").stdout)
    assert one == []
    missing = run("flags", "--db", c.path, "--patient", "Z")
    assert missing.returncode == 1 and "no patient with ID 'Z'" in missing.stderr
