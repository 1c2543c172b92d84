"""The command line (data-contract §2): JSON shapes, exit codes, one-line reasons, no tracebacks."""

import json
import subprocess
import sys

from kdash import db
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
