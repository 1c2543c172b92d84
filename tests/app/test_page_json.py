"""Every number a page shows, from a script (issue 35): the JSON of `throughput`, `side-effects` and `outcomes
--timepoints` against the same pages drawn by app.py for the same (default) filters, figure by figure. The CLI
runs first: the app then holds the store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kdash import ui
from tests.app.session import signed_in
from tests.conftest import ROOT


def cli(*args) -> dict:
    done = subprocess.run([sys.executable, "-m", "kdash", *args, "--json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def store(writable_app_store):
    return writable_app_store(200, 6)


def values(y) -> list:
    """A plotly trace's values: a list, or plotly's typed array {"dtype", "bdata"} (base64)."""
    if isinstance(y, dict) and "bdata" in y:
        import base64
        import numpy as np
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return list(y)


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_the_throughput_json_is_the_throughput_page(store):
    doc = cli("throughput", "--db", store)
    at = signed_in("manager").run().switch_page("pages/throughput.py").run()
    assert not at.exception
    shown, now = metrics(at), doc["totals"]["now"]
    assert shown["Completed sessions"] == f"{now['completed']:,}"
    assert shown["No-show rate"] == ui.percent(now["no_show_rate"], 1)
    assert shown["Chair use, actual"] == ui.percent(now["actual_utilisation"])
    # the bookings chart's completed bars, as drawn, against the JSON's periods
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    completed = next(t for t in spec["data"] if t.get("name", "").lower().startswith("completed"))
    assert [int(y) for y in values(completed["y"])] == [p["completed"] for p in doc["periods"]]


def test_the_side_effects_json_is_the_side_effects_page(store):
    doc = cli("side-effects", "--db", store)
    at = signed_in("clinician").run().switch_page("pages/side_effects.py").run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Treated patients"] == f"{doc['size']['patients']:,}"
    assert shown["Completed sessions"] == f"{doc['size']['sessions']:,}"
    assert shown["Reports"] == f"{sum(r['sessions'] for r in doc['overall']):,}"
    table = next(d.value for d in at.dataframe if "effect" in d.value.columns or "Effect" in d.value.columns)
    effects = table.iloc[:, 0].tolist()
    assert len(effects) == len(doc["overall"])


def test_the_outcomes_timepoints_json_is_the_outcomes_page(store):
    doc = cli("outcomes", "--db", store, "--timepoints")
    at = signed_in("clinician").run().switch_page("pages/outcomes.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "n_evaluable" in d.value.columns or "Evaluable" in d.value.columns)
    assert len(table) == len(doc["timepoints"])
    column = "n_evaluable" if "n_evaluable" in table.columns else "Evaluable"
    assert [int(x) for x in table[column]] == [t["n_evaluable"] for t in doc["timepoints"]]
