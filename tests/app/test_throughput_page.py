"""The throughput page from app.py: figures on the demo store, an empty period, a reversed period."""

import datetime as dt
import json

from tests.app.session import signed_in


def open_page():
    at = signed_in("manager").run()
    return at.switch_page("pages/throughput.py").run()


def test_throughput_page_on_the_demo_store(app_env):
    at = open_page()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert {"Completed sessions", "No-show rate", "Chair use, actual", "Referral → first treatment",
            "BP before dosing"} <= set(labels)
    assert len(at.get("plotly_chart")) >= 6
    # counts and rates only: no patient ID or demo name anywhere on the page
    text = " ".join(str(e.value) for e in at.markdown) + " ".join(str(df.value) for df in at.dataframe)
    assert "P000" not in text
    # the waiting list reads as words, not column names
    waiting = next(df for df in at.dataframe if "stage" in df.value.columns)
    labels = {name: c.get("label") for name, c in json.loads(waiting.proto.columns).items()}
    assert labels["stage"] == "Stage" and labels["median_days_waiting"] == "Waited"


def test_a_period_without_sessions(app_env):
    at = open_page()
    at.date_input[0].set_value(dt.date(2001, 1, 1))
    at.date_input[1].set_value(dt.date(2001, 3, 31)).run()
    assert not at.exception
    assert "No sessions in this period" in at.info[0].value


def test_a_reversed_period(app_env):
    at = open_page()
    at.date_input[0].set_value(dt.date.today())
    at.date_input[1].set_value(dt.date.today() - dt.timedelta(days=30)).run()
    assert not at.exception
    assert "after it ends" in at.error[0].value
