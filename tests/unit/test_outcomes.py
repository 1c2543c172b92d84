"""Outcome statistics (clinical-reference §1) on a 10-patient store worked out by hand."""

import pytest

from kdash import settings
from kdash.clinical import outcomes, stats
from kdash.present.views import outcomes as outcomes_view
from kdash.present.views import patient as patient_view
from tests.builders import Clinic, day

CFG = settings.load()

# patient: (session days, [(day, MADRS)]) — IV ketamine, induction of 6
RECORD = {
    "A": ([0, 2, 4, 7, 9, 11], [(0, 30), (12, 10)]),    # −67 %: responder and remitter (≤ 10)
    "B": ([0, 2, 4, 7, 9, 11], [(0, 30), (12, 15)]),    # −50 %: responder, not remitter
    "C": ([0, 2, 4], [(0, 30), (5, 16)]),               # −47 %: partial
    "D": ([0, 2, 4, 7, 9, 11], [(0, 20), (12, 8)]),     # −60 %: responder and remitter
    "E": ([0, 2], [(0, 12), (3, 10)]),                  # −17 % but 10 ≤ 10: remitter, not responder
    "F": ([0, 2], [(0, 30), (3, 33)]),                  # +10 %: worsening
    "G": ([0, 2], [(1, 25)]),                           # first score after the first session: not evaluable
    "H": ([0], [(0, 0), (2, 0)]),                       # baseline 0: not evaluable
    "I": ([0], [(0, 28)]),                              # nothing after baseline: carried forward, change 0
    "J": ([0, 2], [(-31, 40), (3, 20)]),                # baseline 31 days before: outside the look-back
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    c = Clinic(str(tmp_path_factory.mktemp("outcomes") / "ten.duckdb"))
    for pid, (sessions, scores) in RECORD.items():
        c.patient(pid, sex="F" if pid in "ABCDE" else "M")
        for d in sessions:
            c.session(pid, d)
        for d, total in scores:
            c.score(pid, d, "MADRS", total=total)
    yield c.con
    c.close()


def test_hand_computed_response_and_remission(store):
    s = outcomes.summary(store, CFG, "MADRS")
    assert (s["n_treated"], s["n_evaluable"], s["responders"], s["remitters"]) == (10, 7, 3, 3)
    assert s["response_rate"] == round(3 / 7, 3)
    assert s["response_ci95"] == [0.158, 0.75]           # Wilson, by hand: (3 + 1.92 ∓ 1.96·√(…)) / (7 + 3.84)
    assert s["mean_baseline"] == round(180 / 7, 1)       # 30+30+30+20+12+30+28
    assert s["mean_change"] == round(-60 / 7, 1)         # −20 −15 −14 −12 −2 +3 +0


def test_statuses_by_patient(store):
    po = outcomes.per_patient(store, CFG, scale="MADRS").set_index("patient_id")["status"].to_dict()
    assert po == {"A": "remitter", "B": "responder", "C": "partial", "D": "remitter", "E": "remitter",
                  "F": "worsening", "G": "not evaluable", "H": "not evaluable", "I": "non-responder",
                  "J": "not evaluable"}


def test_completers_differ_from_all_treated_as_expected(store):
    itt = outcomes.summary(store, CFG, "MADRS", analysis_set="itt")
    done = outcomes.summary(store, CFG, "MADRS", analysis_set="completers")
    assert (done["n_treated"], done["responders"], done["remitters"]) == (3, 3, 2)   # A, B, D
    assert done["response_rate"] == 1.0 > itt["response_rate"]


def test_filters_narrow_the_cohort(store):
    assert outcomes.summary(store, CFG, "MADRS", sex="F")["n_treated"] == 5
    assert outcomes.summary(store, CFG, "MADRS", route="esketamine")["n_treated"] == 0
    assert outcomes.summary(store, CFG, "MADRS", start=day(1))["n_treated"] == 0


def test_last_observation_timepoint_equals_the_summary(store):
    tp = outcomes.timepoints(store, CFG, scale="MADRS").set_index("label")
    last = tp.loc["last observation"]
    assert (last["n"], last["n_evaluable"], last["responders"], last["remitters"]) == (10, 7, 3, 3)


def test_all_treated_timepoints_say_what_was_carried_forward(store):
    """After session 2: E and F were scored there; A, B and D not until after session 6, C after 3 and I never,
    so their baseline is carried forward (no change). After session 4: C, E and F stopped earlier with a later score
    than baseline, carried forward (C's −47 % is still no response); A, B, D and I carry the baseline."""
    tp = outcomes.timepoints(store, CFG, scale="MADRS").set_index("label")
    two, four = tp.loc["after session 2"], tp.loc["after session 4"]
    assert (two["n"], two["n_evaluable"], two["responders"], two["remitters"]) == (10, 7, 0, 1)     # E: 10 ≤ 10
    assert (two["carried_last"], two["carried_baseline"], two["under_way"]) == (0, 5, 0)
    assert (four["carried_last"], four["carried_baseline"], four["responders"]) == (3, 4, 0)
    caption = outcomes.set_caption("itt", tp.reset_index())
    assert "after session 2 0 / 5" in caption and "baseline is carried forward" in caption


def test_completers_are_observed_cases(store):
    """A, B and D completed the 6 infusions; after session 2 none was scored (not evaluable, nothing carried);
    at the end of induction all three: 10, 15, 8 from 30, 30, 20 — three responders, A and D remitters."""
    tp = outcomes.timepoints(store, CFG, scale="MADRS", analysis_set="completers").set_index("label")
    assert (tp.loc["after session 2", "n"], tp.loc["after session 2", "n_evaluable"]) == (3, 0)
    end = tp.loc["end of induction"]
    assert (end["n"], end["n_evaluable"], end["responders"], end["remitters"]) == (3, 3, 3, 2)
    assert (end["carried_last"], end["carried_baseline"]) == (0, 0)


def test_courses_still_under_way_are_shown_apart_never_as_failures(tmp_path):
    """An IV course of 3 infusions in the last week is still under way: short of sessions 4 and 6 and of the end of
    induction it is counted apart, not as a non-responder; a course of 3 that ended months ago is carried forward."""
    import datetime as dt
    today = dt.date.today()
    c = Clinic(str(tmp_path / "way.duckdb"))
    try:
        ago = lambda n: (today - dt.timedelta(days=n) - day(0)).days   # noqa: E731 - builder days from today
        for pid, days in (("W", (7, 5, 3)), ("S", (200, 198, 196))):
            c.patient(pid)
            for d in days:
                c.session(pid, ago(d))
            c.score(pid, ago(days[0]), "MADRS", total=30)
            c.score(pid, ago(days[2] - 1), "MADRS", total=24)
        tp = outcomes.timepoints(c.con, CFG, scale="MADRS", today=today).set_index("label")
    finally:
        c.close()
    assert (tp.loc["after session 2", "n"], tp.loc["after session 2", "under_way"]) == (2, 0)
    for label in ("after session 4", "after session 6", "end of induction"):
        assert (tp.loc[label, "n"], tp.loc[label, "under_way"], tp.loc[label, "n_evaluable"]) == (1, 1, 1), label
    assert tp.loc["last observation", "under_way"] == 0


def test_wilson_matches_the_formula():
    low, high = stats.wilson(3, 7)
    z = 1.959964
    centre = (3 / 7 + z * z / 14) / (1 + z * z / 7)
    half = z * ((3 / 7 * 4 / 7) / 7 + z * z / 196) ** 0.5 / (1 + z * z / 7)
    assert low == pytest.approx(centre - half, abs=1e-6) and high == pytest.approx(centre + half, abs=1e-6)
    assert stats.wilson(0, 0) is None


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (3, 7), (0, 50), (50, 50), (17, 400), (1, 3), (999, 1000)])
def test_wilson_columns_equal_scipy_binomtest(k, n):
    rate, low, high = stats.wilson_columns([k, 0], [n, 0])
    assert (low[0], high[0]) == pytest.approx(stats.wilson(k, n), abs=1e-12)
    assert rate[0] == k / n
    assert all(v != v for v in (rate[1], low[1], high[1]))   # no one counted: no rate, no interval


def test_cumulative_incidence_by_hand():
    """Aalen–Johansen with a competing event: 8 patients; response (1) at 1, 3, 5, 6; stopped (2) at 2 and 4;
    censored (0) at 2 and 6. S(t) after each time: 7/8, 6/8 (one stop of 7 at risk), 3 at risk at 4 after the
    response at 3 (6/8 · 4/5), … The share responded: 1/8; + 6/8 · 1/5 = 0.275; + (6/8 · 4/5 · 2/3) · 1/2 = 0.425;
    + (6/8 · 4/5 · 2/3 · 1/2) · 1/1 … at 6 with 2 at risk, 1 responding: 0.575."""
    ci = stats.cumulative_incidence([1, 2, 2, 3, 4, 5, 6, 6], [1, 2, 0, 1, 2, 1, 0, 1])
    assert list(ci["time"]) == [1, 2, 3, 4, 5, 6]
    assert list(ci["response"]) == pytest.approx([0.125, 0.125, 0.275, 0.275, 0.425, 0.575])
    assert list(ci["stopped_share"]) == pytest.approx([0, 0.125, 0.125, 0.275, 0.275, 0.275])
    assert all(lo <= r <= hi for lo, r, hi in zip(ci["low"], ci["response"], ci["high"]))
    assert stats.at_risk([1, 2, 2, 3, 4, 5], [0, 2, 5]) == [6, 5, 1]


def test_time_to_response_counts_stopping_as_a_competing_event(store):
    """Of the 7 evaluable IV patients, I stops after 1 session, E and F after 2, C after 3, all without a response;
    A, B and D respond after session 6. The cumulative incidence of response at 6 is 3/7, the share who did; a
    Kaplan–Meier curve censoring those who stopped would read 100 %."""
    curve = outcomes.time_to_response(store, CFG, scale="MADRS")["sessions"]["iv_ketamine"]
    assert (curve["n"], curve["events"], curve["stopped"], curve["under_way"]) == (7, 3, 4, 0)
    assert list(curve["time"]) == [1, 2, 3, 6]
    assert list(curve["response"]) == pytest.approx([0, 0, 0, 3 / 7])
    assert list(curve["stopped_share"]) == pytest.approx([1 / 7, 3 / 7, 4 / 7, 4 / 7])


def test_a_course_still_under_way_is_censored_not_stopped(tmp_path):
    """Two IV courses of the last fortnight: K not yet responded (censored at its last score, after session 3),
    L responded after session 2: at 2, one of the two at risk responds (1/2)."""
    import datetime as dt
    today = dt.date.today()
    c = Clinic(str(tmp_path / "now.duckdb"))
    try:
        ago = lambda n: (today - dt.timedelta(days=n) - day(0)).days   # noqa: E731 - builder days from today
        for pid, falls in (("K", [25]), ("L", [12])):
            c.patient(pid)
            for d in (10, 8, 6):
                c.session(pid, ago(d))
            c.score(pid, ago(10), "MADRS", total=30)
            c.score(pid, ago(5) if pid == "K" else ago(7), "MADRS", total=falls[0])
        curve = outcomes.time_to_response(c.con, CFG, scale="MADRS", today=today)["sessions"]["iv_ketamine"]
    finally:
        c.close()
    assert (curve["n"], curve["events"], curve["stopped"], curve["under_way"]) == (2, 1, 0, 1)
    assert list(curve["time"]) == [2, 3] and list(curve["response"]) == pytest.approx([0.5, 0.5])


def test_trajectory_sample_is_a_fixed_choice_of_patients_with_a_baseline(store):
    """The spaghetti lines: a sample of patients with a baseline, each with all of their observed points."""
    every = outcomes.trajectories(store, CFG, sample=0, scale="MADRS")
    with_baseline = set(every.loc[every["k"] == 0, "patient_id"])
    assert with_baseline == set("ABCDEFHI")      # G: no score by the first session; J: too long before
    sample = outcomes.trajectories(store, CFG, sample=3, scale="MADRS")
    chosen = set(sample["patient_id"])
    assert len(chosen) == 3 and chosen <= with_baseline
    assert sample.equals(outcomes.trajectories(store, CFG, sample=3, scale="MADRS"))     # the same three each time
    eight = outcomes.trajectories(store, CFG, sample=8, scale="MADRS")
    assert set(eight["patient_id"]) == with_baseline          # never a patient without a baseline
    mine = every[every["patient_id"].isin(chosen)].reset_index(drop=True)
    assert sample.reset_index(drop=True).equals(mine)
    a = every[every["patient_id"] == "A"]
    assert list(zip(a["k"], a["total"])) == [(0, 30), (6, 10)]     # baseline, then the score after session 6


def test_empty_cohort_gives_none_not_nan(store):
    s = outcomes.summary(store, CFG, "MADRS", route="esketamine")
    assert s["n_treated"] == 0 and s["response_rate"] is None and s["response_ci95"] is None


@pytest.mark.parametrize("filters", [dict(route="all", analysis_set="itt"), dict(route="all", analysis_set="completers"),
                                     dict(route="iv_ketamine", analysis_set="itt", sex="F")])
def test_page_view_shares_the_cohort_and_gives_the_same_numbers(store, filters):
    """The page computes its cohort once on a shared cursor; every figure must equal the stand-alone query."""
    import pandas as pd
    f = dict(scale="MADRS", **filters)
    view = outcomes_view.page_view(store, CFG, **f)
    assert view["summary"] == outcomes.summary(store, CFG, **f)
    pd.testing.assert_frame_equal(view["points"], outcomes.timepoints(store, CFG, **f))
    pd.testing.assert_frame_equal(view["means"], outcomes.mean_by_session(store, CFG, **f))
    pd.testing.assert_frame_equal(view["funnel"], outcomes.retention(store, CFG, **f))
    ttr = outcomes.time_to_response(store, CFG, **f)
    for unit, table in view["at_risk"].items():
        assert list(table.index) == ["IV ketamine"]     # everyone here had IV ketamine
        assert table.iloc[0, 0] == ttr[unit]["iv_ketamine"]["n"]     # at time 0 everyone evaluable is at risk
    # the shared cursor's registered tables went with it: a second view builds its own
    assert outcomes_view.page_view(store, CFG, **f)["summary"] == view["summary"]


# time to response counts only the score that counts for a session (clinical-reference §1, "score after session k")
LATE = {
    # sessions 0, 2, 4, 7. Day 1 (25) counts for session 1; day 2 (14, −53 %) is on session 2's day, so it is the
    # second score after session 1 and counts for nothing; day 3 (20) counts for session 2; day 5 (14) for
    # session 3: the first response is after session 3, on day 5 (not after session 1 on day 2).
    "K": ([0, 2, 4, 7], [(0, 30), (1, 25), (2, 14), (3, 20), (5, 14)]),
    # sessions 0, 2. Day 3 (20) counts for session 2; day 12 (10, −67 %) is 10 days after the last session,
    # outside the 7-day window: no response, censored after session 2 on day 3.
    "L": ([0, 2], [(0, 30), (3, 20), (12, 10)]),
    # sessions 0, 2, 4. Day 3 (15, −50 %) counts for session 2: a response at the boundary.
    "M": ([0, 2, 4], [(0, 30), (1, 28), (3, 15)]),
}


@pytest.fixture(scope="module")
def late_store(tmp_path_factory):
    c = Clinic(str(tmp_path_factory.mktemp("late") / "late.duckdb"))
    for pid, (sessions, scores) in LATE.items():
        c.patient(pid)
        for d in sessions:
            c.session(pid, d)
        for d, total in scores:
            c.score(pid, d, "MADRS", total=total)
    yield c.con
    c.close()


def _responses(con):
    rows = outcomes.per_patient(con, CFG, scale="MADRS").set_index("patient_id")
    import pandas as pd
    return {p: tuple(None if pd.isna(v) else int(v) for v in rows.loc[p, ["response_session", "response_day",
                                                                     "last_scored_session", "last_scored_day"]])
            for p in rows.index}


EXPECTED_RESPONSES = {"K": (3, 5, 3, 5), "L": (None, None, 2, 3), "M": (2, 3, 2, 3)}


def test_time_to_response_event_is_the_score_that_counts_for_the_session(late_store):
    from kdash.store import course_scores, derived
    params = outcomes.params(CFG, "MADRS")
    assert not course_scores.is_current(late_store, params)          # no stamped rows yet: the live path
    assert _responses(late_store) == EXPECTED_RESPONSES
    derived.ensure_current(late_store, CFG)
    assert course_scores.is_current(late_store, params)              # the stored path gives the same rows
    assert _responses(late_store) == EXPECTED_RESPONSES
    curves = outcomes.time_to_response(late_store, CFG, scale="MADRS")
    sessions, days = curves["sessions"]["iv_ketamine"], curves["days"]["iv_ketamine"]
    assert sessions["n"] == 3 and sessions["events"] == 2 and sessions["stopped"] == 1
    # L's course ended after 2 sessions on day 2 without a response (its day-12 score is outside the window)
    assert sorted(zip(sessions["durations"], days["durations"])) == [(2, 2), (2, 3), (3, 5)]
    # all three at risk after session 2: M responds, L stops (1/3 each); K responds after session 3 (+1/3)
    assert list(sessions["time"]) == [2, 3] and list(sessions["response"]) == pytest.approx([1 / 3, 2 / 3])
    assert list(sessions["stopped_share"]) == pytest.approx([1 / 3, 1 / 3])


# BDI-II has no sourced remission threshold (clinical-reference §1): remission is "not defined", never a rate
# counted against 0. IV sessions on days 0, 2, 4, 7, 9, 11; BDI-II at baseline and on day 12.
BDI = {"N": (30, 0),     # −100 %: a responder (a threshold of 0 would also make N a "remitter")
       "O": (30, 20),    # −33 %: partial
       "Q": (20, 8)}     # −60 %: a responder


def _bdi_clinic(path) -> Clinic:
    c = Clinic(str(path))
    for pid, (base, last) in BDI.items():
        c.patient(pid)
        for d in (0, 2, 4, 7, 9, 11):
            c.session(pid, d)
        c.score(pid, 0, "BDI2", total=base)
        c.score(pid, 12, "BDI2", total=last)
        c.score(pid, 0, "MADRS", items=[3] * 10)                          # 30
        c.score(pid, 12, "MADRS", items=[1 if pid == "N" else 2] * 10)    # 10 (a remitter) or 20
    return c


@pytest.fixture(scope="module")
def bdi_store(tmp_path_factory):
    c = _bdi_clinic(tmp_path_factory.mktemp("bdi") / "bdi.duckdb")
    yield c
    c.close()


def test_remission_is_not_defined_for_a_scale_without_a_threshold(bdi_store):
    con = bdi_store.con
    s = outcomes.summary(con, CFG, "BDI2")
    assert (s["n_treated"], s["n_evaluable"], s["responders"]) == (3, 3, 2)
    assert s["remitters"] is None and s["remission_rate"] is None and s["remission_ci95"] is None
    statuses = outcomes.per_patient(con, CFG, scale="BDI2").set_index("patient_id")["status"].to_dict()
    assert statuses == {"N": "responder", "O": "partial", "Q": "responder"}
    tp = outcomes.timepoints(con, CFG, scale="BDI2")
    assert tp[["remitters", "remission_rate", "remission_low", "remission_high"]].isna().all().all()
    assert tp.set_index("label").loc["last observation", "responders"] == 2
    # the same store on MADRS (threshold 10): remission is counted as usual
    madrs = outcomes.summary(con, CFG, "MADRS")
    assert (madrs["remitters"], madrs["remission_rate"]) == (1, round(1 / 3, 3))


def test_outcome_charts_say_remission_is_not_defined(bdi_store):
    view = outcomes_view.page_view(bdi_store.con, CFG, scale="BDI2")
    assert view["summary"]["remission_rate"] is None
    bars = view["timepoint_chart"]
    assert [t["name"] for t in bars["data"]] == ["Response"]          # no remission bars at 0 %
    assert any("Remission: not defined for BDI-II" in a["text"] for a in bars["layout"]["annotations"])
    assert "remission not defined" in bars["layout"]["title"]["text"]
    course = view["trajectory_chart"]["layout"]
    texts = [a["text"] for a in course["annotations"]]
    assert any("Remission: not defined for BDI-II" in t for t in texts)
    assert not any(t.startswith("Remission ≤") for t in texts)


def test_outcomes_cli_gives_null_remission_for_bdi2(tmp_path):
    import json
    import subprocess
    import sys
    from tests.conftest import ROOT
    c = _bdi_clinic(tmp_path / "bdi-cli.duckdb")
    c.close()
    out = subprocess.run([sys.executable, "-m", "kdash", "outcomes", "--db", c.path, "--scale", "BDI2",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["responders"] == 2
    assert doc["remitters"] is None and doc["remission_rate"] is None and doc["remission_ci95"] is None


def test_patient_status_line_says_remission_is_not_defined_for_bdi2(bdi_store):
    from kdash import scales
    from kdash.clinical import patient
    rec = patient.record(bdi_store.con, CFG, "N")
    status, sentence = patient.status_line(rec, scales.SCALES["BDI2"], CFG)
    assert status == "responder"                                      # BDI-II 0: not a "remitter"
    assert sentence.endswith("remission not defined for BDI-II"), sentence
    trend = patient_view.view(bdi_store.con, CFG, "N", day(20))["trends"]
    bdi = next(t for t in trend if t["code"] == "BDI2")["trend"]["layout"]
    assert any("Remission: not defined for BDI-II" in a["text"] for a in bdi["annotations"])
    madrs = next(t for t in trend if t["code"] == "MADRS")["trend"]["layout"]
    assert any(a["text"].startswith("Remission ≤ 10") for a in madrs["annotations"])


def test_a_differencing_attack_on_two_cohorts_a_day_or_a_month_apart_is_refused(tmp_path):
    """Issue 31: a manager read one patient's outcome from two cohorts one day apart. Periods are whole months for
    counts-only users, and a figure is suppressed when a neighbouring period or filter differs by 1 to 4 patients."""
    import datetime as dt
    c = Clinic(str(tmp_path / "diff.duckdb"))
    try:
        # 12 patients first treated in March 2026, one more (the target) on 1 April
        for i in range(13):
            pid = f"M{i:02d}"
            c.patient(pid, sex="F" if i < 12 else "M")
            first = 2 + i if i < 12 else 30                  # builder day 30 is 1 April 2026
            for d in (first, first + 2):
                c.session(pid, d)
            c.score(pid, first, "MADRS", total=30)
            c.score(pid, first + 3, "MADRS", total=10 if i % 2 else 25)
        march = outcomes.whole_months(dt.date(2026, 3, 5), dt.date(2026, 3, 20), dt.date(2026, 12, 3))
        assert march == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
        assert outcomes.whole_months(dt.date(2026, 3, 5), dt.date(2026, 3, 31), dt.date(2026, 12, 3)) == march
        filters = dict(scale="MADRS", start=march[0], end=march[1])
        assert outcomes.cohort_counts(c.con, CFG, **filters) == (12, 12)
        reason = outcomes.differencing(c.con, CFG, **filters)
        assert reason and "ending a month later" in reason               # + the one April patient
        view = outcomes_view.page_view(c.con, CFG, hide_small=True, **filters)
        assert view["suppressed"] and view["summary"]["responders"] is None and view["summary"]["n_treated"] == 12
        # a sex filter that leaves out one patient is a neighbour too
        both = dict(scale="MADRS", start=dt.date(2026, 3, 1), end=dt.date(2026, 4, 30))
        assert "without the sex filter" in outcomes.differencing(c.con, CFG, **both, sex="F")
        # a clinician sees every figure, and per-patient marks
        open_view = outcomes_view.page_view(c.con, CFG, hide_small=False, **filters)
        assert "suppressed" not in open_view and open_view["waterfall_chart"] is not None
    finally:
        c.close()


def test_counts_only_views_draw_no_per_patient_mark(store):
    view = outcomes_view.page_view(store, CFG, hide_small=True, scale="MADRS")
    if "suppressed" not in view:
        assert view["waterfall_chart"] is None
        traces = view["trajectory_chart"]["data"]
        assert not any("individual" in (t.get("name") or "").lower() for t in traces)
