"""The side-effect charts: frequencies beside the trials', by route, dose and session number, severity."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kdash.present.charts.style import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    ROUTE_COLOURS,
    SKY,
    VERMILLION,
    YELLOW,
    Figure,
    _error_bars,
)
from kdash.vocab import ROUTES as ROUTE_NAMES  # one vocabulary for tables and charts


def effect_frequencies(overall: pd.DataFrame, trials: pd.DataFrame) -> go.Figure:
    """Per-patient frequency of each effect with 95 % intervals, beside the trials' per-patient rates."""
    df = overall.sort_values("per_patient")
    fig = Figure(layout=dict(template="kdash", height=160 + 28 * len(df)))
    labels = [e.replace("_", " ") for e in df["effect"]]
    fig.add_bar(y=labels, x=df["per_patient"], orientation="h", name="This clinic (patients with it ≥ once)",
                marker_color=BLUE, error_x=_error_bars(df["per_patient"], df["per_patient_low"], df["per_patient_high"]))
    t = trials.set_index("effect")
    for study, symbol, colour in (("TRANSFORM-1", "diamond", ORANGE), ("ASPIRE 84 mg", "triangle-up", VERMILLION),
                                  ("SUSTAIN-1", "square", PURPLE)):
        xs = [t[study].get(e) / 100 if e in t.index and t[study].get(e) == t[study].get(e) else None
              for e in df["effect"]]
        fig.add_scatter(y=labels, x=xs, mode="markers", name=study, marker=dict(symbol=symbol, size=10, color=colour))
    n = int(overall["n_patients"].iloc[0]) if len(overall) else 0
    fig.update_layout(title=f"Side effects per patient, with trial rates (n = {n:,} treated; 95 % Wilson intervals)",
                      xaxis=dict(title="Share of patients", tickformat=".0%"))
    return fig


def grouped_rates(df: pd.DataFrame, rate: str, title: str, group_label: str, top: list[str]) -> go.Figure:
    """One rate (per patient or per session) for the top effects, grouped (route, dose band)."""
    fig = Figure(layout=dict(template="kdash", height=380, barmode="group"))
    for i, (grp, part) in enumerate(df[df["effect"].isin(top)].groupby("grp", sort=True)):
        part = part.set_index("effect").reindex(top)
        name = ROUTE_NAMES.get(grp, grp)
        fig.add_bar(x=[e.replace("_", " ") for e in top], y=part[rate], name=f"{name} (n = {int(part['n_patients'].max()):,} "
                    f"patients)" if rate == "per_patient" else f"{name} (n = {int(part['n_sessions'].max()):,} sessions)",
                    marker_color=ROUTE_COLOURS.get(grp) if group_label == "Route"
                    else [BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, GREY][i % 7],
                    error_y=_error_bars(part[rate].fillna(0), part[f"{rate}_low"], part[f"{rate}_high"]))
    fig.update_layout(title=title, yaxis=dict(title="Share" + (" of patients" if rate == "per_patient"
                                                               else " of sessions"), tickformat=".0%"),
                      legend_title_text=group_label, margin=dict(t=120))
    return fig


def by_session_number(df: pd.DataFrame, top: list[str]) -> go.Figure:
    """Per-session frequency by session number: do effects fade over the course?"""
    fig = Figure(layout=dict(template="kdash", height=360))
    palette = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY]
    for i, effect in enumerate(top):
        part = df[df["effect"] == effect].assign(k=lambda d: d["grp"].astype(int)).sort_values("k")
        fig.add_scatter(x=part["k"], y=part["per_session"], mode="lines+markers", name=effect.replace("_", " "),
                        line=dict(color=palette[i % len(palette)]))
    fig.update_layout(title="Side effects by session number",        # session k: one per patient who had it
                      xaxis=dict(title="Session", dtick=1),
                      yaxis=dict(title="Share of patients at that session", tickformat=".0%"))
    return fig


def severity_split(overall: pd.DataFrame) -> go.Figure:
    df = overall.sort_values("sessions")
    fig = Figure(layout=dict(template="kdash", height=160 + 26 * len(df), barmode="stack"))
    for severity, colour in (("mild", YELLOW), ("moderate", ORANGE), ("severe", VERMILLION)):
        fig.add_bar(y=[e.replace("_", " ") for e in df["effect"]], x=df[severity], orientation="h", name=severity,
                    marker_color=colour)
    fig.update_layout(title=f"Severity of reported side effects (n = {int(overall['sessions'].sum()):,} reports)",
                      xaxis_title="Reports")
    return fig
