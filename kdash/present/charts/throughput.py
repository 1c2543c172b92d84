"""The clinic's throughput charts: sessions per week, bookings, rates by period, occupancy, chair time, lead times,
phases, how far induction got."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kdash.present.charts.style import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    ROUTE_COLOURS,
    SKY,
    STATUS_COLOURS,
    STATUS_LABELS,
    VERMILLION,
    Figure,
    _decorate,
    _legend_line,
    _threshold,
)
from kdash.vocab import ROUTES as ROUTE_NAMES  # one vocabulary for tables and charts


def sessions_per_week(df: pd.DataFrame) -> go.Figure:
    """Stacked bars of bookings per week by status."""
    fig = Figure(layout=dict(template="kdash", barmode="stack", height=320))
    total = int(df["sessions"].sum()) if len(df) else 0
    for status in ("completed", "scheduled", "cancelled", "no_show"):
        part = df[df["status"] == status]
        if len(part):
            fig.add_bar(x=part["week"], y=part["sessions"], name=STATUS_LABELS[status],
                        marker_color=STATUS_COLOURS[status])
    fig.update_layout(title=f"Sessions per week by status (n = {total:,} bookings)",
                      xaxis_title="Week beginning", yaxis_title="Sessions")
    return fig


def _parts(df: pd.DataFrame, grain: str) -> list[str]:
    """Each period's 'part week: 1 of 7 days (1 Nov)', or '' for a whole one (kdash.clinical.throughput.periods)."""
    if "partial" not in df:
        return [""] * len(df)
    from kdash.clinical.throughput import part_label
    return [part_label(r, grain) for _, r in df.iterrows()]


def bookings_by_period(df: pd.DataFrame, grain: str) -> go.Figure:
    """Bookings per week or month stacked by status; a part period (cut by the report's start or end) hatched and
    named as one, so a stub bar never reads as a fall."""
    fig = Figure(layout=dict(template="kdash", barmode="stack", height=340))
    parts = _parts(df, grain)
    pattern = dict(shape=["/" if p else "" for p in parts], fillmode="overlay", fgcolor="#FFFFFF", size=6)
    for status in ("completed", "scheduled", "cancelled", "no_show"):
        if df[status].sum():
            fig.add_bar(x=df["period"], y=df[status], name=STATUS_LABELS[status], marker_color=STATUS_COLOURS[status],
                        marker_pattern=pattern, customdata=parts,
                        hovertemplate="%{y:,} " + STATUS_LABELS[status].lower() + "<br>%{customdata}<extra></extra>")
    total = int(df[["completed", "scheduled", "cancelled", "no_show"]].sum().sum())
    hatched = f" · hatched: part {grain}" if any(parts) else ""
    fig.update_layout(title=f"Sessions per {grain} by status (n = {total:,} bookings){hatched}",
                      xaxis_title=f"{grain.capitalize()} beginning", yaxis_title="Sessions")
    return fig


def rates_by_period(df: pd.DataFrame, series: dict[str, tuple[str, str]], title: str, lines: dict | None = None,
                    grain: str = "week") -> go.Figure:
    """Rates over time (e.g. no-shows, utilisation) as lines over whole periods, with reference lines; a part
    period's rate is an open marker off the line (a one-day week's 0 % is not a trend)."""
    fig = Figure(layout=dict(template="kdash", height=320))
    parts = _parts(df, grain)
    part = pd.Series([bool(p) for p in parts], index=df.index)
    for column, (name, colour) in series.items():
        fig.add_scatter(x=df["period"], y=df[column].where(~part), mode="lines+markers", name=name,
                        line=dict(color=colour))
        if part.any():
            fig.add_scatter(x=df["period"][part], y=df[column][part], mode="markers", name=f"{name}, part {grain}",
                            marker=dict(color=colour, symbol="circle-open", size=9, line=dict(width=2)),
                            customdata=[p for p in parts if p],
                            hovertemplate="%{y:.0%}<br>%{customdata}<extra></extra>")
    # reference lines named in the legend, not written over the rates that sit near them (issue 36)
    _decorate(fig, *[[_threshold(y, text, GREY, dash="dot")[0]] for y, text in (lines or {}).items()])
    for text in (lines or {}).values():
        fig.add_trace(_legend_line(text, GREY, dash="dot"))
    fig.update_layout(title=title, yaxis=dict(tickformat=".0%", rangemode="tozero"))
    return fig


def occupancy_heatmap(df: pd.DataFrame, chairs: int) -> go.Figure:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    hours = sorted(df["hour"].unique())
    z = [[None] * len(hours) for _ in range(7)]
    for r in df.itertuples():
        z[int(r.weekday)][hours.index(r.hour)] = r.occupancy
    keep = [i for i in range(7) if any(v is not None for v in z[i])]
    fig = Figure(go.Heatmap(z=[z[i] for i in keep], y=[days[i] for i in keep], x=[f"{h:02d}:00" for h in hours],
                               zmin=0, zmax=1, colorscale=[[0, "#FFFFFF"], [1, BLUE]],
                               colorbar=dict(title="in use", tickformat=".0%"),
                               hovertemplate="%{y} %{x}: %{z:.0%} of chair time<extra></extra>"),
                    layout=dict(template="kdash", height=300))
    fig.update_layout(title=f"Chair occupancy by weekday and hour ({chairs} chairs; completed sessions)",
                      yaxis=dict(autorange="reversed"))
    return fig


def chair_time_bars(df: pd.DataFrame, observe: int) -> go.Figure:
    """Distribution of chair minutes per completed session, by route (10-minute bins)."""
    fig = Figure(layout=dict(template="kdash", height=340, barmode="overlay"))
    for r in df.itertuples():
        hist = dict(sorted((int(k), int(v)) for k, v in r.minutes_histogram.items()))
        fig.add_bar(x=[k + 5 for k in hist], y=[v / r.sessions for v in hist.values()], width=9,
                    name=f"{ROUTE_NAMES.get(r.route, r.route)} (median {r.median:.0f} min, n = {r.sessions:,})",
                    marker_color=ROUTE_COLOURS.get(r.route, GREY), opacity=0.7)
    fig.add_vline(x=observe, line=dict(color=VERMILLION, dash="dash"), annotation_text=f"{observe} min (esketamine)",
                  annotation_font=dict(color=VERMILLION))
    fig.update_layout(title="Chair time per session by route", xaxis_title="Minutes in the chair",
                      yaxis=dict(title="Share of sessions", tickformat=".0%"))
    return fig


def lead_time_bars(df: pd.DataFrame) -> go.Figure:
    fig = Figure(layout=dict(template="kdash", height=340, barmode="group"))
    for r, colour in zip(df.itertuples(), (SKY, ORANGE, BLUE)):
        hist = dict(sorted((int(k), int(v)) for k, v in r.weeks_histogram.items()))
        fig.add_bar(x=list(hist), y=list(hist.values()), marker_color=colour,
                    name=f"{r.step}: median {r.median:.0f} d (IQR {r.q1:.0f}–{r.q3:.0f}), n = {r.patients:,}")
    fig.update_layout(title="Waiting: referral → consultation → first treatment", xaxis=dict(title="Weeks waited",
                                                                                            dtick=1),
                      yaxis_title="Patients", height=420,
                      legend=dict(orientation="v", y=-0.25, x=0, xanchor="left", yanchor="top"))
    return fig


def phase_counts(df: pd.DataFrame, grain: str) -> go.Figure:
    fig = Figure(layout=dict(template="kdash", height=320, barmode="stack"))
    for phase, colour in (("induction", ORANGE), ("maintenance", BLUE)):
        part = df[df["phase"] == phase]
        fig.add_bar(x=part["period"], y=part["patients"], name=f"in {phase}", marker_color=colour)
    for phase, colour, dash in (("finished", GREEN, "solid"), ("stopped", VERMILLION, "dot")):
        part = df[df["phase"] == phase]
        fig.add_scatter(x=part["period"], y=part["patients"], name=f"{phase} (course ended)", mode="lines+markers",
                        line=dict(color=colour, dash=dash))
    fig.update_layout(title=dict(text=f"Patients per {grain} by phase",
                                 subtitle=dict(text="a course ends after 3 weeks without a session")),
                      yaxis_title="Patients")
    return fig


def induction_reach(df: pd.DataFrame) -> go.Figure:
    fig = Figure(layout=dict(template="kdash", height=320, barmode="group"))
    for route, part in df.groupby("route"):
        share = part["patients"] / part["patients"].sum()
        fig.add_bar(x=part["induction_sessions"], y=share, name=f"{ROUTE_NAMES.get(route, route)} "
                    f"(plan {int(part['planned'].iloc[0])}, n = {int(part['patients'].sum()):,})",
                    marker_color=ROUTE_COLOURS.get(route, GREY))
    fig.update_layout(title="Induction reach: how far induction got (settled courses)", xaxis=dict(title="Induction sessions completed",
                      dtick=1), yaxis=dict(title="Share of patients", tickformat=".0%"))
    return fig


def quality_by_week(weeks: pd.DataFrame, titles: dict) -> go.Figure:
    """Gaps found per week (of the session or score at fault), one line per check that found any: is the record
    getting better?"""
    fig = Figure(layout=dict(template="kdash", height=300))
    shown = weeks.groupby("check_code")["rows"].sum()
    for code in [c for c in titles if shown.get(c, 0) > 0]:
        rows = weeks[weeks["check_code"] == code]
        fig.add_scatter(x=pd.to_datetime(rows["week"]), y=rows["rows"], mode="lines+markers", name=titles[code],
                        hovertemplate="week of %{x|%d %b}: %{y}<extra></extra>")
    fig.update_layout(title="Gaps found per week, last 12 weeks", xaxis_title="Week (of the session or score)",
                      yaxis_title="Found", yaxis=dict(rangemode="tozero"))
    return fig
