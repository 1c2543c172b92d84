"""Words, not codes: every code the store can hold has a label, and tables and CSVs are shown in those words."""

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from kdash import vocab
from kdash.clinical import rules

ROOT = Path(__file__).resolve().parents[2]


def test_codes_become_labels_and_columns_headers():
    df = pd.DataFrame({"route": ["sc_ketamine", None], "status": ["no_show", "completed"],
                       "heart_rate": [72, None], "scheduled_at": pd.to_datetime(["2026-09-14", "2026-09-15"])})
    shown = vocab.readable(df)
    assert list(shown.columns) == ["Route", "Status", "Heart rate (/min)", "Booked for"]
    assert list(shown["Route"]) == ["SC ketamine", None] and list(shown["Status"]) == ["No-show", "Completed"]
    assert list(shown["Booked for"]) == [dt.date(2026, 9, 14), dt.date(2026, 9, 15)]      # midnight: a date


def test_a_timestamp_with_a_time_keeps_it():
    df = pd.DataFrame({"scheduled_at": pd.to_datetime(["2026-09-14 09:30", "2026-09-15 00:00"])})
    assert pd.api.types.is_datetime64_any_dtype(vocab.values(df)["scheduled_at"])


def test_the_csv_has_the_screens_words_and_no_none():
    df = pd.DataFrame({"route": ["iv_ketamine", None], "spo2": [97.0, None],
                       "assessed_on": pd.to_datetime(["2026-09-14", None]),
                       "started_at": pd.to_datetime(["2026-09-14 09:05", None])})
    text = vocab.to_csv(df).decode()
    assert text.splitlines() == ["Route,SpO₂ (%),Assessed on,Started",
                                 "IV ketamine,97,2026-09-14,2026-09-14 09:05", ",,,"]


def test_columns_in_keep_keep_their_codes():
    df = pd.DataFrame({"patient_id": ["P1"], "route": ["esketamine"]})
    assert list(vocab.readable(df, keep=("patient_id",)).columns) == ["patient_id", "Route"]


def test_an_unknown_code_is_still_words():
    assert vocab.label("some_new_code") == "some new code"
    assert vocab.label(None) == vocab.EMPTY
    assert vocab.header("unheard_of_column") == "Unheard of column"


def test_every_rule_route_and_side_effect_has_a_label():
    from kdash import __main__ as cli
    from kdash.clinical import eligibility
    from kdash import demo
    from kdash.importers import csv_folder
    assert set(csv_folder.EFFECTS) <= set(vocab.SIDE_EFFECTS) and set(csv_folder.ROUTES) <= set(vocab.ROUTES)
    assert set(rules.RULES) <= set(vocab.FLAG_RULES)
    assert set(cli.ROUTES) <= set(vocab.ROUTES) and set(eligibility.ROUTES) <= set(vocab.ROUTES)
    assert set(demo.SIDE_EFFECTS) <= set(vocab.SIDE_EFFECTS)


def test_every_audit_action_the_code_writes_has_a_label():
    """Found in the source: audit.log(cur, "action", …), views, and every export action named."""
    written = set()
    for path in list((ROOT / "kdash").rglob("*.py")) + list((ROOT / "pages").glob("*.py")):
        text = path.read_text()
        written |= set(re.findall(r"audit\.log\(cur, \"([a-z_]+)\"", text))
        written |= set(re.findall(r"audit_view\(\"([a-z_]+)\"", text))
        written |= set(re.findall(r"\"(export_[a-z_]+|audit_export)\"", text))
        written |= {f"export_{k}" for k in re.findall(r"exported\(\"[^\"]+\", [^,]+, \"([a-z]+)\"", text)}
        if "exported(fmt.upper()" in text:
            written |= {"export_png", "export_svg"}
    assert len(written) >= 24 and {"export_pdf", "export_pptx", "export_csv", "export_report_pdf"} <= written
    assert written - set(vocab.AUDIT_ACTIONS) == set()


@pytest.mark.parametrize("codes", [vocab.ROUTES, vocab.SESSION_STATUSES, vocab.AUDIT_ACTIONS, vocab.FLAG_RULES])
def test_labels_are_words(codes):
    assert all("_" not in label and label.strip() for label in codes.values())


@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "-2+3",
                                     "@SUM(A1:A9)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(payload):
    """Issue 19, finding 4 (OWASP CSV injection): the cell starts with a quote, so it is text, never a formula."""
    text = vocab.to_csv(pd.DataFrame({"name": [payload], "total": [-3.0]})).decode()
    import csv
    import io
    row = next(r for r in csv.DictReader(io.StringIO(text, newline="")))
    assert row["Name"] == "'" + payload.replace("\r", "\n") and row["Total"] == "-3"      # numbers stay numbers
