"""Pure chart functions: DataFrame → plotly Figure, in one visual language across pages.

Okabe–Ito colours (colour-blind safe); improvement is never carried by red/green alone;
thresholds are labelled dashed lines; units and n go in titles. The explicit template keeps an
exported PNG looking like the figure on screen.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

BLUE, SKY, ORANGE, VERMILLION, GREEN, YELLOW, PURPLE, GREY = (
    "#0072B2", "#56B4E9", "#E69F00", "#D55E00", "#009E73", "#F0E442", "#CC79A7", "#999999")
STATUS_COLOURS = {"completed": BLUE, "scheduled": SKY, "cancelled": ORANGE, "no_show": VERMILLION}
STATUS_LABELS = {"completed": "Completed", "scheduled": "Scheduled", "cancelled": "Cancelled", "no_show": "No-show"}

TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    font=dict(family="DejaVu Sans, Arial, sans-serif", size=13, color="#222"),
    colorway=[BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY],
    title=dict(font=dict(size=15), x=0, xanchor="left", y=0.98, yanchor="top"),
    margin=dict(l=50, r=20, t=80, b=40),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, traceorder="normal"),
)
pio.templates["kdash"] = TEMPLATE


def sessions_per_week(df: pd.DataFrame) -> go.Figure:
    """Stacked bars of bookings per week by status."""
    fig = go.Figure(layout=dict(template="kdash", barmode="stack", height=320))
    total = int(df["sessions"].sum()) if len(df) else 0
    for status in ("completed", "scheduled", "cancelled", "no_show"):
        part = df[df["status"] == status]
        if len(part):
            fig.add_bar(x=part["week"], y=part["sessions"], name=STATUS_LABELS[status],
                        marker_color=STATUS_COLOURS[status])
    fig.update_layout(title=f"Sessions per week by status (n = {total:,} bookings)",
                      xaxis_title="Week beginning", yaxis_title="Sessions")
    return fig


BAND_TINTS = ["rgba(0,0,0,0)", "rgba(240,228,66,0.12)", "rgba(230,159,0,0.12)", "rgba(213,94,0,0.12)",
              "rgba(213,94,0,0.2)"]


def _band_tints(n: int) -> list[str]:
    return BAND_TINTS[:n] if n <= len(BAND_TINTS) else BAND_TINTS + [BAND_TINTS[-1]] * (n - len(BAND_TINTS))


def _threshold(fig: go.Figure, y: float, text: str, colour: str, dash: str = "dash",
               where: str = "top left") -> None:
    fig.add_hline(y=y, line=dict(color=colour, dash=dash, width=1.5), annotation_text=text,
                  annotation_position=where, annotation_font=dict(color=colour, size=12),
                  annotation_bgcolor="rgba(255,255,255,0.85)")


def _session_axis(fig: go.Figure, first: float, last: float) -> None:
    """Whole sessions on x; every tick while they fit."""
    fig.update_xaxes(range=[first - 0.5, last + 0.5], dtick=1 if last - first <= 20 else None, tick0=0)


def mood_trend(scores: pd.DataFrame, sessions: pd.DataFrame, scale, baseline: float | None,
               remission: float | None, response_pct: float, by: str = "session") -> go.Figure:
    """One scale's totals over the course: severity bands, baseline, the response line, the remission line,
    and the sessions given (with their dose) along the bottom.

    `scores` has assessed_on, after_session, total; `sessions` completed sessions with session_number,
    day, dose_mg, mg_per_kg. `by` is "session" (x = sessions given before the score) or "date".
    """
    x_of = (lambda df: df["after_session"]) if by == "session" else (lambda df: df["assessed_on"])
    fig = go.Figure(layout=dict(template="kdash", height=420))
    for (low, high, label), tint in zip(scale.bands, _band_tints(len(scale.bands))):
        fig.add_hrect(y0=low - 0.5 if low else 0, y1=high + 0.5 if high < scale.total_max else high, fillcolor=tint,
                      line_width=0, layer="below", annotation_text=label, annotation_position="right",
                      annotation_font=dict(size=10, color=GREY))
    if baseline is not None:
        _threshold(fig, baseline, f"Baseline {baseline:g}", GREY)
        _threshold(fig, baseline * (1 - response_pct / 100), f"Response: {response_pct:g} % fall "
                   f"(≤ {baseline * (1 - response_pct / 100):g})", BLUE, where="top right")
    if remission is not None:
        _threshold(fig, remission, f"Remission ≤ {remission:g}", GREEN, dash="dot", where="bottom left")
    fig.add_scatter(x=x_of(scores), y=scores["total"], mode="lines+markers", name=scale.name,
                    line=dict(color=BLUE, width=2.5), marker=dict(size=8),
                    customdata=scores["assessed_on"].dt.strftime("%Y-%m-%d"),
                    hovertemplate="%{y} on %{customdata}<extra></extra>")
    if len(sessions):
        sx = sessions["session_number"] if by == "session" else sessions["day"]
        dose = [f"Session {int(k)} · {mg:g} mg" + (f" ({kg:.2f} mg/kg)" if pd.notna(kg) else "")
                for k, mg, kg in zip(sessions["session_number"], sessions["dose_mg"].fillna(0), sessions["mg_per_kg"])]
        fig.add_scatter(x=sx, y=[0] * len(sessions), mode="markers", name="Session (dose)",
                        marker=dict(symbol="triangle-up", size=11, color=ORANGE), text=dose,
                        hovertemplate="%{text}<extra></extra>")
    n = len(scores)
    fig.update_layout(title=f"{scale.name} total over the course (n = {n} assessments)",
                      xaxis_title="Sessions given before the score" if by == "session" else "Date",
                      yaxis_title=f"{scale.name} total (0–{scale.total_max}, lower is better)",
                      yaxis=dict(range=[-1, scale.total_max + 1]))
    if by == "session":
        last = max([0, *scores["after_session"], *(sessions["session_number"] if len(sessions) else [])])
        _session_axis(fig, 0, last)
    return fig


def item_heatmap(items: pd.DataFrame, scale, by: str = "session") -> go.Figure:
    """Item scores over time (rows = items, columns = assessments); the suicide item outlined."""
    labels = [f"Item {i}" + (" · suicidal thoughts" if i == scale.suicide_item else "")
              for i in range(1, scale.n_items + 1)]
    cols = [str(int(k)) if by == "session" else d.strftime("%d %b")
            for k, d in zip(items["after_session"], items["assessed_on"])]
    z = [[row[i] for row in items["items"]] for i in range(scale.n_items)]
    fig = go.Figure(go.Heatmap(z=z, x=list(range(len(cols))), y=labels, zmin=0, zmax=scale.item_max,
                               colorscale=[[0, "#FFFFFF"], [1, BLUE]], colorbar=dict(title="score"),
                               hovertemplate="%{y}: %{z}<extra></extra>"),
                    layout=dict(template="kdash", height=120 + 24 * scale.n_items))
    if scale.suicide_item:
        row = scale.suicide_item - 1
        fig.add_shape(type="rect", x0=-0.5, x1=len(cols) - 0.5, y0=row - 0.5, y1=row + 0.5,
                      line=dict(color=VERMILLION, width=2.5))
    fig.update_layout(title=f"{scale.name} item scores (0–{scale.item_max}; n = {len(cols)} assessments)",
                      xaxis=dict(tickmode="array", tickvals=list(range(len(cols))), ticktext=cols,
                                 title="Sessions given before the score" if by == "session" else "Date"),
                      yaxis=dict(autorange="reversed"))
    return fig


def session_bp(bp: pd.DataFrame, kind: str, caution: float, limit: float) -> go.Figure:
    """Systolic or diastolic BP per session before dosing, at ~40 min and at discharge, against the lines."""
    fig = go.Figure(layout=dict(template="kdash", height=340))
    _threshold(fig, caution, f"Pre-dose caution > {caution:g}", ORANGE)
    _threshold(fig, limit, f"Post-dose limit > {limit:g}", VERMILLION)
    for point, colour, symbol in (("before dosing", GREY, "circle"), ("~40 min", BLUE, "diamond"),
                                  ("discharge", SKY, "square")):
        part = bp[bp["point"] == point]
        fig.add_scatter(x=part["session_number"], y=part[kind], mode="markers+lines", name=point,
                        marker=dict(color=colour, symbol=symbol, size=8), line=dict(color=colour, width=1))
    fig.update_layout(title=f"{kind.capitalize()} BP per session (mmHg; n = {bp['session_number'].nunique()} sessions)",
                      xaxis_title="Session", yaxis_title=f"{kind} (mmHg)")
    _session_axis(fig, 1, bp["session_number"].max())
    return fig


def session_scale(df: pd.DataFrame, scale, line: float, line_text: str) -> go.Figure:
    """CADSS or MOAA/S per session with its flag line."""
    fig = go.Figure(layout=dict(template="kdash", height=300))
    _threshold(fig, line, line_text, VERMILLION)
    fig.add_scatter(x=df["session_number"], y=df["total"], mode="lines+markers", name=scale.name,
                    line=dict(color=PURPLE if scale.code == "CADSS" else BLUE))
    fig.update_layout(title=f"{scale.name} per session (n = {len(df)})", xaxis_title="Session",
                      yaxis_title=scale.name, yaxis=dict(range=[-0.5, max(scale.total_max if scale.code == 'MOAAS'
                                                                             else 0, df['total'].max() + 2
                                                                             if len(df) else 10, line + 2)]))
    _session_axis(fig, 1, df["session_number"].max() if len(df) else 1)
    return fig


SEVERITY_LEVEL = {"mild": 1, "moderate": 2, "severe": 3}


def side_effect_grid(effects: pd.DataFrame) -> go.Figure:
    """Side effects by session, shaded by severity."""
    names = sorted(effects["effect"].unique())
    sessions = sorted(effects["session_number"].unique())
    z = [[None] * len(sessions) for _ in names]
    for e in effects.itertuples():
        z[names.index(e.effect)][sessions.index(e.session_number)] = SEVERITY_LEVEL.get(e.severity, 1)
    fig = go.Figure(go.Heatmap(z=z, x=[str(int(s)) for s in sessions], y=[n.replace("_", " ") for n in names],
                               zmin=1, zmax=3, colorscale=[[0, YELLOW], [0.5, ORANGE], [1, VERMILLION]],
                               colorbar=dict(title="severity", tickvals=[1, 2, 3],
                                             ticktext=["mild", "moderate", "severe"]),
                               xgap=2, ygap=2, hovertemplate="%{y}, session %{x}<extra></extra>"),
                    layout=dict(template="kdash", height=140 + 26 * len(names)))
    fig.update_layout(title=f"Side effects by session (n = {len(effects)} reports)", xaxis_title="Session")
    return fig
