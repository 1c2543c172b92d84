"""Chart builders: the data they draw is the data they were given."""

import numpy as np
import pandas as pd

from kdash import charts


def test_courses_become_one_trace_with_a_gap_after_each_patient():
    lines = pd.DataFrame({"patient_id": ["B", "A", "A", "B", "C"], "k": [0, 1, 0, 1, 0], "total": [30, 20, 35, 25, 40]})
    xs, ys = charts._courses_with_gaps(lines)
    np.testing.assert_array_equal(xs, [0, 1, np.nan, 0, 1, np.nan, 0, np.nan])
    np.testing.assert_array_equal(ys, [35, 20, np.nan, 30, 25, np.nan, 40, np.nan])
    empty = charts._courses_with_gaps(lines.iloc[:0])
    assert len(empty[0]) == len(empty[1]) == 0


def test_kaplan_meier_chart_draws_the_share_responded():
    curves = {"esketamine": {"time": [1, 2, 4], "survival": [0.8, 0.5, 0.5], "low": [0.6, 0.3, 0.3],
                             "high": [0.9, 0.7, 0.7], "n": 10, "events": 5}}
    fig = charts.km_curves(curves, "sessions")
    line, band = fig.data
    np.testing.assert_allclose(line.x, [0, 1, 2, 4])
    np.testing.assert_allclose(line.y, [0, 0.2, 0.5, 0.5])
    np.testing.assert_allclose(band.y, [0, 0.4, 0.7, 0.7, 0.3, 0.3, 0.1, 0])   # upper edge out, lower edge back
    assert "n = 10, 5 responded" in line.name


def test_figures_carry_the_kdash_template_with_the_okabe_ito_colours():
    fig = charts.km_curves({}, "days")
    assert fig.layout.template.layout.colorway[0] == charts.BLUE
    assert set(fig.layout.template.data.to_plotly_json()) == {"bar", "scatter", "heatmap"}   # only what we draw
