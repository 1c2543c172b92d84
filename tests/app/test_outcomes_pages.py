"""Outcome and side-effect pages from app.py: filters move the numbers the expected way; the CLI agrees."""

import datetime as dt
import json
import subprocess
import sys


from tests.app.session import signed_in
from tests.conftest import ROOT


def open_page(page):
    at = signed_in("clinician").run()
    return at.switch_page(page).run()


def metrics(at):
    return {m.label: m.value for m in at.metric}


def n(value):
    return int(value.replace(",", ""))


def pct(value):
    return float(value.rstrip("%"))


def select(at, label, value):
    next(s for s in at.selectbox if s.label == label).set_value(value)
    return at.run()


def test_outcome_filters_move_the_numbers(app_env):
    at = open_page("pages/outcomes.py")
    assert not at.exception
    everyone = metrics(at)
    itt_rate = pct(everyone["Response, last observation"])
    select(at, "Analysis set", "completers")
    completers = metrics(at)
    assert n(completers["Treated"]) < n(everyone["Treated"])
    assert pct(completers["Response, last observation"]) > itt_rate      # dropouts count as non-responders in ITT
    select(at, "Analysis set", "itt")
    select(at, "Route", "esketamine")
    assert 0 < n(metrics(at)["Treated"]) < n(everyone["Treated"])
    select(at, "Route", "all")
    select(at, "Sex", "F")
    assert 0 < n(metrics(at)["Treated"]) < n(everyone["Treated"])
    select(at, "Sex", None)
    select(at, "Age band", "65+")
    assert n(metrics(at)["Treated"]) < n(everyone["Treated"])
    select(at, "Age band", None)
    today = dt.date.today()
    at.date_input[0].set_value((today - dt.timedelta(days=180), today)).run()
    assert n(metrics(at)["Treated"]) < n(everyone["Treated"])
    assert not at.exception


def test_a_cohort_of_nobody_says_so(app_env):
    at = open_page("pages/outcomes.py")
    at.date_input[0].set_value((dt.date(2001, 1, 1), dt.date(2001, 12, 31))).run()
    assert not at.exception
    assert "No patients match" in at.info[0].value
    assert not any("nan" in m.value.lower() for m in at.metric)
    at = open_page("pages/side_effects.py")
    at.date_input[0].set_value((dt.date(2001, 1, 1), dt.date(2001, 12, 31))).run()
    assert not at.exception and "No patients match" in at.info[0].value


def test_cli_and_page_give_the_same_numbers(app_env):
    out = subprocess.run([sys.executable, "-m", "kdash", "outcomes", "--db", app_env, "--route", "iv_ketamine",
                          "--set", "completers", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    cli = json.loads(out.stdout)
    at = open_page("pages/outcomes.py")
    at.date_input[0].set_value((dt.date(1990, 1, 1), dt.date.today())).run()   # no date limit, like the CLI
    select(at, "Route", "iv_ketamine")
    select(at, "Analysis set", "completers")
    m = metrics(at)
    assert n(m["Treated"]) == cli["n_treated"]
    assert n(m["Not evaluable"]) == cli["n_treated"] - cli["n_evaluable"]
    assert m["Response, last observation"] == f"{cli['response_rate']:.1%}"
    assert m["Remission, last observation"] == f"{cli['remission_rate']:.1%}"


def chart_titles(at):
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def open_tab(at, key, name):
    at.session_state[key] = name
    return at.run()


def test_outcome_charts_are_there_one_tab_at_a_time(app_env):
    """Only the open tab runs and draws (issue 20: five figures at once took 0.7 s in a browser)."""
    at = open_page("pages/outcomes.py")
    titles = chart_titles(at)
    assert len(titles) == 1 and "by timepoint" in titles[0]
    titles = chart_titles(open_tab(at, "outcomes_section", "Course of scores"))
    assert any("95 % interval" in t and "individual courses" in t for t in titles)
    assert any(t.startswith("Retention") for t in titles) and not any("by timepoint" in t for t in titles)
    titles = chart_titles(open_tab(at, "outcomes_section", "Time to first response"))
    assert len(titles) == 1 and "share responded" in titles[0]
    at = open_tab(at, "outcomes_section", "Published results beside ours")
    assert not at.get("plotly_chart") and "TRANSFORM-2 (Popova 2019)" in at.table[-1].value.index
    assert not at.exception


def test_side_effects_page_shows_frequencies_and_trial_rates(app_env):
    at = open_page("pages/side_effects.py")
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} >= {"TRANSFORM-1", "ASPIRE 84 mg", "SUSTAIN-1"}
    labels = [m.label for m in at.metric]
    assert "Post-dose BP > 180/110" in labels and "CADSS > 4" in labels and "MOAA/S ≤ 3" in labels
    assert len(at.get("plotly_chart")) == 1                  # only the open tab draws (issue 20)
    assert len(open_tab(at, "side_effects_section", "By route and dose").get("plotly_chart")) == 2
    assert len(open_tab(at, "side_effects_section", "Over the course").get("plotly_chart")) == 2
    everyone = n(metrics(at)["Treated patients"])
    select(at, "Route", "iv_ketamine")
    assert n(metrics(at)["Treated patients"]) < everyone


def test_bdi2_remission_reads_not_defined(tmp_path, monkeypatch):
    """BDI-II has no sourced remission threshold: the page says "not defined", never a rate against 0."""
    import streamlit as st
    from tests.builders import Clinic
    c = Clinic(str(tmp_path / "bdi.duckdb"))
    for pid, (base, last) in {"N": (30, 0), "O": (30, 20), "Q": (20, 8)}.items():
        c.patient(pid)
        for d in (0, 2, 4, 7, 9, 11):
            c.session(pid, d)
        c.score(pid, 0, "BDI2", total=base)
        c.score(pid, 12, "BDI2", total=last)
    c.close()
    monkeypatch.setenv("KDASH_DB", c.path)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = open_page("pages/outcomes.py")
        at.date_input[0].set_value((dt.date(1990, 1, 1), dt.date.today())).run()
        at = select(at, "Scale", "BDI2")
        assert not at.exception
        m = metrics(at)
        assert n(m["Treated"]) == 3 and m["Response, last observation"] == "66.7%"
        assert m["Remission, last observation"] == "not defined"
        specs = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")]
        bars = next(s for s in specs if "by timepoint" in s["layout"]["title"]["text"])
        assert [t["name"] for t in bars["data"]] == ["Response"]
        assert any("Remission: not defined" in a["text"] for a in bars["layout"]["annotations"])
        at = open_tab(at, "outcomes_section", "Published results beside ours")
        ours = at.table[-1].value.iloc[0]          # the published-results table, this clinic first
        assert ours["Remission"] == "not defined" and ours["Response"] == "66.7 %"
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()


def test_a_manager_sees_whole_months_and_no_mark_for_one_patient(app_env):
    """Issue 31: counts and rates only: the period widened to whole months, no waterfall bar or trajectory line per
    patient (the clinician still has both)."""
    at = signed_in("manager").run()
    at.switch_page("pages/outcomes.py").run()
    assert not at.exception
    assert any("whole months" in c.value for c in at.caption)
    at.session_state["outcomes_section"] = "Course of scores"
    at.run()
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles and not any("change at the last observation" in t for t in titles)
    assert not any("individual courses" in t for t in titles)
    clinician = open_page("pages/outcomes.py")
    clinician.session_state["outcomes_section"] = "Course of scores"
    clinician.run()
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in clinician.get("plotly_chart")]
    assert any("change at the last observation" in t for t in titles)
