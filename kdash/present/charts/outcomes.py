"""The cohort's outcome charts: response and remission by timepoint, the mean course, the waterfall, time to response, retention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kdash.present.charts.style import (
    BLUE,
    GREY,
    ORANGE,
    ROUTE_COLOURS,
    STATUS_PALETTE,
    Figure,
    _decorate,
    _legend_line,
    _error_bars,
    _remission_mark,
    _session_axis,
    _threshold,
    _tint,
)
from kdash.vocab import ROUTES as ROUTE_NAMES  # one vocabulary for tables and charts


def timepoint_rates(df: pd.DataFrame, scale_name: str, analysis_set: str) -> go.Figure:
    """Response and remission at fixed timepoints with 95 % Wilson intervals. Where remission is not defined for
    the scale (remitters all null: no threshold, BDI-II) its bars give way to a note saying so."""
    fig = Figure(layout=dict(template="kdash", height=380, barmode="group"))
    remission_defined = not (len(df) and df["remitters"].isna().all())
    for what, colour in (("response", BLUE), ("remission", ORANGE))[:2 if remission_defined else 1]:
        rate = df[f"{what}_rate"].fillna(0)
        fig.add_bar(x=df["label"], y=rate, name=what.capitalize(), marker_color=colour,
                    error_y=_error_bars(rate, df[f"{what}_low"], df[f"{what}_high"]),
                    # the label sits inside the bar's foot, clear of the interval's whisker above it
                    text=[f"{r:.0%}" for r in rate], textposition="inside", insidetextanchor="start",
                    textangle=0, insidetextfont=dict(color="white"), constraintext="none",
                    customdata=df["n_evaluable"], hovertemplate="%{y:.1%} of %{customdata} evaluable<extra></extra>")
    if not remission_defined:
        _decorate(fig, _remission_mark(None, scale_name))
    n = int(df["n"].iloc[0]) if len(df) else 0
    what = "response and remission" if remission_defined else "response (remission not defined)"
    fig.update_layout(title=f"{scale_name}: {what} by timepoint ({analysis_set}, n = {n:,}; "
                            "95 % Wilson intervals)", yaxis=dict(title="Share of evaluable patients",
                                                                 tickformat=".0%", range=[0, 1.05]))
    return fig


def mean_trajectory(means: pd.DataFrame, lines: pd.DataFrame, scale, remission: float | None) -> go.Figure:
    """Mean score after each session with its 95 % interval, over faint individual trajectories."""
    fig = Figure(layout=dict(template="kdash", height=420))
    xs, ys = _courses_with_gaps(lines)
    if len(lines):                 # none for a counts-only view: no line stands for one patient
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(120,120,120,0.18)", width=1),
                        hoverinfo="skip", name="Individual courses", connectgaps=False)
    top = float(scale.total_max) if getattr(scale, "total_max", None) else None
    # an interval of a handful of patients can reach past the scale's ends: it is drawn within them
    high = means["high"].clip(upper=top) if top else means["high"]
    low = means["low"].clip(lower=0)
    fig.add_scatter(x=list(means["k"]) + list(means["k"][::-1]), y=list(high) + list(low[::-1]),
                    fill="toself", fillcolor="rgba(0,114,178,0.2)", line=dict(width=0), name="95 % interval",
                    hoverinfo="skip")
    fig.add_scatter(x=means["k"], y=means["mean"], mode="lines+markers", name="Mean", line=dict(color=BLUE, width=3),
                    customdata=means["n"], hovertemplate="mean %{y:.1f} (n = %{customdata})<extra></extra>")
    _decorate(fig, _remission_mark(remission, scale.name))
    n = int(means["n"].iloc[0]) if len(means) else 0
    courses = f"; {lines['patient_id'].nunique()} individual courses in grey" if len(lines) else ""
    fig.update_layout(title=f"{scale.name} after each session: mean and 95 % interval (n = {n:,} at baseline"
                            f"{courses})",
                      xaxis_title="Sessions given (0 = baseline)", yaxis_title=f"{scale.name} total (lower is better)")
    if top:     # the axis fits the data, within the scale's range
        peak = max([float(np.nanmax(ys)) if np.isfinite(ys).any() else 0.0, float(high.max() if len(high) else 0)])
        fig.update_yaxes(range=[0, min(top, max(10.0, peak * 1.08))])
    _session_axis(fig, 0, int(means["k"].max()) if len(means) else 1)
    return fig


def _courses_with_gaps(lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """All courses as one trace: each patient's points in session order, a NaN gap between patients
    (one trace is fast to build and draw; numpy arrays skip plotly's per-item validation)."""
    lines = lines.sort_values(["patient_id", "k"], kind="stable")
    last_of_patient = (lines["patient_id"] != lines["patient_id"].shift(-1)).to_numpy()
    n = len(lines) + int(last_of_patient.sum())
    where = np.arange(len(lines)) + np.concatenate([[0], np.cumsum(last_of_patient)[:-1]]) if len(lines) else []
    xs, ys = np.full(n, np.nan), np.full(n, np.nan)
    xs[where], ys[where] = lines["k"].to_numpy(float), lines["total"].to_numpy(float)
    return xs, ys


def waterfall(df: pd.DataFrame, scale_name: str, shown_of: int) -> go.Figure:
    """Each patient's % change from baseline at the last observation, coloured by status."""
    fig = Figure(layout=dict(template="kdash", height=380, bargap=0))
    change = -100 * df["pct_change"].to_numpy(float)
    x = np.arange(len(df))
    for status, colour in STATUS_PALETTE.items():
        part = (df["status"] == status).to_numpy()
        if part.any():
            fig.add_bar(x=x[part], y=change[part], name=status, marker_color=colour, marker_line_width=0)
    # the response line is named in the legend: written on the plot it sat on the bars of the best responders
    _decorate(fig, [_threshold(-50, "", BLUE)[0]])
    fig.add_trace(_legend_line("Response: −50 %", BLUE))
    sampled = f"{len(df):,} of {shown_of:,}, fixed sample" if shown_of > len(df) else f"n = {len(df):,}"
    fig.update_layout(title=f"{scale_name} change at the last observation ({sampled})",
                      legend=dict(orientation="h", y=-0.15, yanchor="top", x=0),
                      xaxis=dict(title=None, showticklabels=False),
                      yaxis=dict(title="Change from baseline (%)", ticksuffix=" %"))
    return fig


def response_incidence(curves: dict, unit: str, ticks: list[int] | None = None) -> go.Figure:
    """Cumulative incidence of first response per route (Aalen–Johansen, stopping treatment a competing event), a
    step line with its 95 % band, the share who stopped without a response as a dotted line of the same colour, and
    the numbers at risk under the axis on the same ticks (the axis ends at the last tick: beyond it too few remain)."""
    from kdash.clinical import outcomes
    ticks = ticks or outcomes.AT_RISK_TICKS[unit]
    rows = len(curves)
    # room under the axis for a row of numbers at risk per route, and at the left for the routes' names
    # the legend above the plot, a row per route (responded, stopped), under the title
    fig = Figure(layout=dict(template="kdash", height=440 + 44 * rows, margin=dict(b=70 + 22 * rows, l=130,
                                                                                 t=80 + 24 * rows),
                             legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", entrywidth=330)))
    for i, (route, c) in enumerate(curves.items()):
        colour = ROUTE_COLOURS.get(route, GREY)
        t = np.concatenate([[0.0], np.asarray(c["time"], float)])
        responded, low, high, stopped = (np.concatenate([[0.0], np.asarray(c[k], float)])
                                         for k in ("response", "low", "high", "stopped_share"))
        name = ROUTE_NAMES.get(route, route)
        fig.add_scatter(x=t, y=high, mode="lines", line=dict(width=0, shape="hv"), hoverinfo="skip",
                        showlegend=False, legendgroup=route)
        fig.add_scatter(x=t, y=low, mode="lines", line=dict(width=0, shape="hv"), fill="tonexty",
                        fillcolor=_tint(colour, 0.12), hoverinfo="skip", showlegend=False, legendgroup=route)
        fig.add_scatter(x=t, y=responded, mode="lines", line=dict(shape="hv", color=colour, width=2.5),
                        legendgroup=route, name=f"{name}: responded ({c['events']:,} of {c['n']:,})")
        fig.add_scatter(x=t, y=stopped, mode="lines", line=dict(shape="hv", color=colour, width=1.5, dash="dot"),
                        legendgroup=route, name=f"{name}: stopped without a response ({c['stopped']:,})")
        for tick, count in zip(ticks, outcomes.number_at_risk(c, ticks)):
            fig.add_annotation(x=tick, y=0, yref="paper", yshift=-58 - 22 * i, text=f"{count:,}", showarrow=False,
                               font=dict(color=colour, size=13))
        fig.add_annotation(x=0, xref="paper", xanchor="right", y=0, yref="paper", yshift=-58 - 22 * i, text=name,
                           showarrow=False, font=dict(color=colour, size=12))
    fig.add_annotation(x=0, xref="paper", xanchor="right", y=0, yref="paper", yshift=-36, text="At risk",
                       showarrow=False, font=dict(size=12))
    fig.update_layout(title=f"Time to first response by {unit[:-1]}: share responded (shaded: 95 % interval)",
                      xaxis=dict(range=[-0.3, ticks[-1] + 0.3], tickvals=ticks, zeroline=False),
                      xaxis_title=None,
                      yaxis=dict(title="Share of patients", tickformat=".0%", range=[0, 1]))
    fig.add_annotation(x=1, xref="paper", xanchor="right", y=1, yref="paper", yanchor="bottom", showarrow=False,
                       text="Sessions given" if unit == "sessions" else "Days since the first session",
                       font=dict(size=12))
    return fig


def retention_funnel(df: pd.DataFrame) -> go.Figure:
    fig = Figure(go.Funnel(y=df["step"], x=df["patients"], texttemplate="%{value:,} (%{percentInitial:.0%})",
                              marker=dict(color=BLUE)), layout=dict(template="kdash", height=380))
    fig.update_layout(title=f"Retention: how far patients got (n = {int(df['patients'].iloc[0]):,} started)")
    return fig


def course_calibration(cal: pd.DataFrame) -> go.Figure:
    """The expected course's predicted chance of response (leave-one-out) against the share that responded, per
    route, bins of at least 10 predictions, with Wilson intervals; on the diagonal, the prediction held."""
    fig = Figure(layout=dict(template="kdash", height=380))
    fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", line=dict(color=GREY, dash="dot", width=1.5),
                    name="Prediction held", hoverinfo="skip")
    for route, rows in cal.groupby("route", sort=True):
        fig.add_scatter(x=rows["predicted"] * 100, y=rows["observed"] * 100, mode="markers",
                        name=ROUTE_NAMES.get(route, route), marker=dict(size=9, color=ROUTE_COLOURS.get(route, BLUE)),
                        error_y=dict(type="data", symmetric=False, array=(rows["high"] - rows["observed"]) * 100,
                                     arrayminus=(rows["observed"] - rows["low"]) * 100, thickness=1.2),
                        customdata=rows["n"],
                        hovertemplate="predicted %{x:.0f} %, observed %{y:.0f} % (n = %{customdata})<extra></extra>")
    fig.update_layout(title="Expected course: predicted chance of response against what happened",
                      xaxis_title="Predicted chance of response (%, leave-one-out)",
                      yaxis_title="Responded at the end of induction (%)",
                      xaxis=dict(range=[-3, 103]), yaxis=dict(range=[-3, 103]))
    return fig
