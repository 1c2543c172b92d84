"""Chart builders: the data they draw is the data they were given."""

import numpy as np
import pandas as pd

from kdash.present import charts
from kdash.present.charts import outcomes as outcome_charts


def test_courses_become_one_trace_with_a_gap_after_each_patient():
    lines = pd.DataFrame({"patient_id": ["B", "A", "A", "B", "C"], "k": [0, 1, 0, 1, 0], "total": [30, 20, 35, 25, 40]})
    xs, ys = outcome_charts._courses_with_gaps(lines)
    np.testing.assert_array_equal(xs, [0, 1, np.nan, 0, 1, np.nan, 0, np.nan])
    np.testing.assert_array_equal(ys, [35, 20, np.nan, 30, 25, np.nan, 40, np.nan])
    empty = outcome_charts._courses_with_gaps(lines.iloc[:0])
    assert len(empty[0]) == len(empty[1]) == 0


def test_response_incidence_chart_draws_the_share_responded_and_the_share_stopped():
    curves = {"esketamine": {"time": [1, 2, 4], "response": [0.2, 0.5, 0.5], "low": [0.1, 0.3, 0.3],
                             "high": [0.4, 0.7, 0.7], "stopped_share": [0.0, 0.1, 0.3], "n": 10, "events": 5,
                             "stopped": 3, "durations": [1, 1, 2, 2, 2, 4, 4, 6, 9, 13]}}
    fig = charts.response_incidence(curves, "sessions")
    upper, lower, line, stopped = fig.data
    np.testing.assert_allclose(line.x, [0, 1, 2, 4])
    np.testing.assert_allclose(line.y, [0, 0.2, 0.5, 0.5])
    np.testing.assert_allclose(upper.y, [0, 0.4, 0.7, 0.7])
    np.testing.assert_allclose(lower.y, [0, 0.1, 0.3, 0.3])
    np.testing.assert_allclose(stopped.y, [0, 0, 0.1, 0.3])
    assert stopped.line.dash == "dot" and stopped.line.color == line.line.color
    assert lower.fill == "tonexty" and line.mode == "lines" and upper.mode == "lines"   # no stray markers
    assert "responded (5 of 10)" in line.name and "stopped without a response (3)" in stopped.name
    assert "Kaplan" not in fig.layout.title.text
    # the axis ends at the last at-risk tick, and the numbers at risk sit on the same ticks
    assert list(fig.layout.xaxis.tickvals) == [0, 2, 4, 6, 8, 10, 12] and fig.layout.xaxis.range[1] < 13
    at_risk = [a.text for a in fig.layout.annotations if a.xref != "paper"]
    assert at_risk == ["10", "8", "5", "3", "2", "1", "1"]        # durations ≥ 0, 2, 4, … 12


def test_figures_carry_the_kdash_template_with_the_okabe_ito_colours():
    spec = charts.response_incidence({}, "days").to_dict()        # the dict a page caches and draws
    assert spec["layout"]["template"]["layout"]["colorway"][0] == charts.BLUE
    assert set(spec["layout"]["template"]["data"]) == {"bar", "scatter", "heatmap"}   # only what we draw


def test_every_chart_dict_is_a_valid_plotly_figure_with_the_template():
    """Built against an empty named template, each chart still becomes a figure plotly accepts in full."""
    import plotly.graph_objects as go
    lines = pd.DataFrame({"patient_id": ["a", "a"], "route": ["iv_ketamine"] * 2, "k": [0, 1], "total": [30, 20]})
    means = pd.DataFrame({"k": [0, 1], "mean": [30.0, 20.0], "sd": [1.0, 1.0], "n": [1, 1], "low": [29.0, 19.0],
                          "high": [31.0, 21.0]})
    from kdash import scales
    spec = charts.mean_trajectory(means, lines, scales.SCALES["MADRS"], 10).to_dict()
    checked = go.Figure(spec)                              # validates every property, the template's too
    assert checked.layout.template.layout.colorway[0] == charts.BLUE
    assert checked.to_dict()["layout"]["template"] == spec["layout"]["template"]


def _chart_dicts(view):
    """Every chart dict in a page view (nested in dicts, skipping tables and numbers)."""
    for value in view.values():
        if isinstance(value, dict) and "layout" in value and "data" in value:
            yield value
        elif isinstance(value, dict):
            yield from _chart_dicts(value)
        elif isinstance(value, list):
            yield from _chart_dicts({i: v for i, v in enumerate(value)})


def test_every_page_chart_validates_in_full(demo_store):
    """The charts of the outcome, side-effect, throughput and patient pages, as cached, pass plotly's full
    validation (they are built without it against an empty named template) and carry the kdash template."""
    import datetime as dt
    import plotly.graph_objects as go
    from kdash import settings
    from kdash.present.views import outcomes as outcomes_view
    from kdash.present.views import side_effects as side_effects_view
    from kdash.present.views import throughput as throughput_view
    from kdash.present.views import patient as patient_view
    from kdash.store import db
    cfg = settings.load()
    con = db.connect(demo_store, read_only=True)
    try:
        pid = con.execute("SELECT patient_id FROM course_facts ORDER BY n_sessions DESC LIMIT 1").fetchone()[0]
        views = [outcomes_view.page_view(con, cfg, scale="MADRS"), side_effects_view.page_view(con, cfg),
                 throughput_view.page_view(con, cfg, start=dt.date.today() - dt.timedelta(days=180), end=dt.date.today()),
                 patient_view.view(con, cfg, pid, dt.date.today())]
    finally:
        con.close()
    specs = [spec for view in views for spec in _chart_dicts(view)]
    assert len(specs) >= 20
    for spec in specs:
        assert spec["layout"]["template"] is charts.TEMPLATE_SPEC
        go.Figure(spec)                                       # raises on any invalid property


def test_presentation_titles_keep_to_one_line_across_an_export():
    """A long title shrinks to fit the exported width (it ran off the slide); a short one keeps the large type."""
    long = charts.Figure(layout=dict(title="MADRS: response and remission by timepoint (all treated (last observation "
                                           "carried forward), n = 292; 95 % Wilson intervals)"))
    short = charts.Figure(layout=dict(title="MADRS change at the last observation (n = 284)"))
    long_title, short_title = (charts.for_presentation(f)["layout"]["title"] for f in (long, short))
    assert short_title["font"]["size"] == round(15 * 1.3)
    assert long_title["font"]["size"] < short_title["font"]["size"]
    assert 0.55 * long_title["font"]["size"] * len(long_title["text"]) <= charts.PRESENTATION_WIDTH_PX


def test_a_small_cohorts_mean_course_stays_within_the_scale():
    """Two patients give a t-interval far past the scale's ends: the band and the axis keep to 0–60 (MADRS)."""
    from kdash import scales
    means = pd.DataFrame({"k": [0, 1, 2], "mean": [30.0, 22.0, 18.0], "n": [2, 2, 2],
                          "low": [-40.0, -30.0, -20.0], "high": [100.0, 80.0, 70.0]})
    lines = pd.DataFrame({"patient_id": ["a"] * 3 + ["b"] * 3, "k": [0, 1, 2] * 2, "total": [32, 20, 15, 28, 24, 21]})
    fig = charts.mean_trajectory(means, lines, scales.SCALES["MADRS"], 10)
    band = next(t for t in fig.data if t.name == "95 % interval")
    assert min(band.y) >= 0 and max(band.y) <= 60
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] <= 60


def test_the_side_effect_grid_says_each_level_in_words_as_well_as_colour():
    """Issue 36: readable without colour; one effect over a few sessions reads as a row of sessions."""
    import pandas as pd
    from kdash.present import charts
    effects = pd.DataFrame({"effect": ["nausea", "nausea", "headache"], "session_number": [1, 3, 3],
                            "severity": ["mild", None, "severe"]})
    grid = charts.side_effect_grid(effects).data[0]
    assert grid.texttemplate == "%{text}"
    assert [list(r) for r in grid.text] == [["", "severe"], ["mild", "unrated"]]      # rows: headache, nausea
    many = pd.DataFrame({"effect": ["nausea"] * 20, "session_number": range(1, 21), "severity": ["mild"] * 20})
    assert charts.side_effect_grid(many).data[0].text is None                             # too narrow for words
