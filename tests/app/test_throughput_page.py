"""The throughput page from app.py: figures on the demo store, an empty period, a reversed period."""

import datetime as dt
import json

from tests.app.session import signed_in


def open_page():
    at = signed_in("manager").run()
    return at.switch_page("pages/throughput.py").run()


TABS = ["Sessions", "Chairs", "Waiting", "Patients and retention", "Esketamine monitoring", "Safety-flag follow-up"]


def test_throughput_page_on_the_demo_store(app_env):
    at = open_page()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3                  # only the open tab draws: Sessions (issue 20)
    labels, charts, text, frames = set(), 0, "", []
    for tab in TABS:
        at.session_state["throughput_section"] = tab
        at.run()
        assert not at.exception
        labels |= {m.label for m in at.metric}
        charts += len(at.get("plotly_chart"))
        text += " ".join(str(e.value) for e in at.markdown) + " ".join(str(df.value) for df in at.dataframe)
        frames += list(at.dataframe)
    assert {"Completed sessions", "No-show rate", "Chair use, actual", "To first treatment",
            "BP before dosing"} <= labels
    assert charts >= 6
    # counts and rates only: no patient ID or demo name anywhere on the page
    assert "P000" not in text
    # the waiting list reads as words, not column names
    waiting = next(df for df in frames if "stage" in df.value.columns)
    labels = {name: c.get("label") for name, c in json.loads(waiting.proto.columns).items()}
    assert labels["stage"] == "Stage" and labels["median_days_waiting"] == "Median wait (days)"


def test_the_default_period_is_the_last_full_month_against_the_month_before(app_env):
    at = open_page()
    today = dt.date.today()
    end = today.replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    before_end = start - dt.timedelta(days=1)
    assert at.selectbox(key="preset").value == "last_month"
    assert f"**{start:%d %b %Y}**" in at.markdown[0].value or any(f"{start:%d %b %Y}" in m.value for m in at.markdown)
    assert any(f"{before_end.replace(day=1):%d %b %Y} to {before_end:%d %b %Y}" in c.value for c in at.caption)
    assert [b.label for b in at.get("download_button")][:3] == ["PDF report", "PDF to project", "PowerPoint"]


def test_the_last_quarter_is_grouped_by_month(app_env):
    at = open_page()
    at.selectbox(key="preset").set_value("last_quarter").run()
    assert not at.exception
    assert at.selectbox(key="grain_last_quarter").value == "month"
    at.selectbox(key="compare").set_value("year").run()
    assert not at.exception and any("a year earlier" in c.value for c in at.caption)


def custom(at):
    return at.selectbox(key="preset").set_value("custom").run()


def test_a_period_without_sessions(app_env):
    at = custom(open_page())
    at.date_input[0].set_value(dt.date(2001, 1, 1))
    at.date_input[1].set_value(dt.date(2001, 3, 31)).run()
    assert not at.exception
    assert "No sessions in this period" in at.info[0].value


def test_a_reversed_period(app_env):
    at = custom(open_page())
    at.date_input[0].set_value(dt.date.today())
    at.date_input[1].set_value(dt.date.today() - dt.timedelta(days=30)).run()
    assert not at.exception
    assert "after it ends" in at.error[0].value
