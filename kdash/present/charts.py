"""Pure chart functions: DataFrame → plotly Figure, in one visual language across pages.

Okabe–Ito colours (colour-blind safe); improvement is never carried by red/green alone;
thresholds are labelled dashed lines; units and n go in titles. The explicit template keeps an
exported PNG looking like the figure on screen.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from kdash import vocab

from kdash.vocab import ROUTES as ROUTE_NAMES   # one vocabulary for tables and charts

BLUE, SKY, ORANGE, VERMILLION, GREEN, YELLOW, PURPLE, GREY = (
    "#0072B2", "#56B4E9", "#E69F00", "#D55E00", "#009E73", "#F0E442", "#CC79A7", "#999999")
STATUS_COLOURS = {"completed": BLUE, "scheduled": SKY, "cancelled": ORANGE, "no_show": VERMILLION}
STATUS_LABELS = vocab.SESSION_STATUSES

# plotly_white's layout and the trace defaults of the trace types drawn here, nothing else: a figure carries
# its template, and plotly validates it on every build and every st.plotly_chart call, so a lean template
# is most of a chart's cost on a cached rerun.
_WHITE = pio.templates["plotly_white"]
TEMPLATE = go.layout.Template(layout=_WHITE.layout, data={kind: _WHITE.data[kind] for kind in
                                                          ("bar", "scatter", "heatmap", "funnel")})
TEMPLATE.layout.update(
    font=dict(family="DejaVu Sans, Arial, sans-serif", size=13, color="#222"),
    colorway=[BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY],
    title=dict(font=dict(size=15), x=0, xanchor="left", y=0.98, yanchor="top"),
    margin=dict(l=50, r=20, t=80, b=40),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, traceorder="normal"),
)
TEMPLATE_SPEC = TEMPLATE.to_plotly_json()
# Figures name an empty "kdash" template while they are built and get the real one as they become a dict
# (Figure.to_dict): plotly validates and copies a named template into every figure it builds, which was about
# half the cost of a chart; the dict a page caches and draws is the same.
pio.templates["kdash"] = go.layout.Template()


class Figure(go.Figure):
    """A kdash chart: a plotly figure whose dict carries the kdash template."""

    def to_dict(self) -> dict:
        spec = super().to_dict()
        spec["layout"]["template"] = TEMPLATE_SPEC
        return spec


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


BAND_TINTS = ["rgba(0,0,0,0)", "rgba(240,228,66,0.12)", "rgba(230,159,0,0.12)", "rgba(213,94,0,0.12)",
              "rgba(213,94,0,0.2)"]


def _band_tints(n: int) -> list[str]:
    return BAND_TINTS[:n] if n <= len(BAND_TINTS) else BAND_TINTS + [BAND_TINTS[-1]] * (n - len(BAND_TINTS))


def _threshold(y: float, text: str, colour: str, dash: str = "dash", where: str = "top left") -> list[dict]:
    """A labelled dashed line across the plot, as [shape, annotation] for `_decorate` (plain dicts set
    once: plotly's add_hline re-validates the whole layout on every call and is many times slower)."""
    right = where.endswith("right")
    return [dict(type="line", xref="paper", x0=0, x1=1, y0=y, y1=y, line=dict(color=colour, dash=dash, width=1.5)),
            dict(xref="paper", x=1 if right else 0, xanchor="right" if right else "left", y=y,
                 yanchor="bottom" if where.startswith("top") else "top", text=text, showarrow=False,
                 font=dict(color=colour, size=12), bgcolor="rgba(255,255,255,0.85)")]


def _band(low: float, high: float, tint: str, label: str) -> list[dict]:
    return [dict(type="rect", xref="paper", x0=0, x1=1, y0=low, y1=high, fillcolor=tint, line_width=0, layer="below"),
            dict(xref="paper", x=1, xanchor="right", y=(low + high) / 2, text=label, showarrow=False,
                 font=dict(size=10, color=GREY))]


def _note(text: str) -> list:
    """A note in the plot's top right corner, without a shape (for `_decorate`)."""
    return [None, dict(xref="paper", yref="paper", x=1, xanchor="right", y=1, yanchor="top", text=text,
                       showarrow=False, font=dict(color=GREY, size=11), bgcolor="rgba(255,255,255,0.85)")]


def _remission_mark(remission: float | None, scale_name: str, where: str = "top left") -> list:
    """The remission line, or where the scale has no remission threshold (BDI-II) a note saying so."""
    if remission is None:
        return _note(f"Remission: not defined for {scale_name} (no sourced threshold)")
    return _threshold(remission, f"Remission ≤ {remission:g}", GREEN, dash="dot", where=where)


def _decorate(fig: go.Figure, *pairs: list[dict]) -> None:
    fig.update_layout(shapes=[p[0] for p in pairs if p[0] is not None], annotations=[p[1] for p in pairs])


def _session_ticks(first: float, last: float) -> dict:
    """Whole sessions on x; every tick while they fit."""
    return dict(range=[first - 0.5, last + 0.5], dtick=1 if last - first <= 20 else None, tick0=0)


def _session_axis(fig: go.Figure, first: float, last: float) -> None:
    fig.update_xaxes(**_session_ticks(first, last))


def mood_trend(scores: pd.DataFrame, sessions: pd.DataFrame, scale, baseline: float | None,
               remission: float | None, response_pct: float, by: str = "session",
               when: list[str] | None = None) -> go.Figure:
    """One scale's totals over the course: severity bands, baseline, the response line, the remission line,
    and the sessions given (with their dose) along the bottom.

    `scores` has assessed_on, after_session, total; `sessions` completed sessions with session_number,
    day, dose_mg, mg_per_kg. `by` is "session" (x = sessions given before the score) or "date".
    `when` labels each score in the hover text (default: its date; a de-identified view passes "day N").
    """
    x_of = (lambda df: df["after_session"]) if by == "session" else (lambda df: df["assessed_on"])
    fig = Figure(layout=dict(template="kdash", height=420))
    marks = [_band(low - 0.5 if low else 0, high + 0.5 if high < scale.total_max else high, tint, label)
             for (low, high, label), tint in zip(scale.bands, _band_tints(len(scale.bands)))]
    if baseline is not None:
        marks.append(_threshold(baseline, f"Baseline {baseline:g}", GREY))
        marks.append(_threshold(baseline * (1 - response_pct / 100), f"Response: {response_pct:g} % fall "
                                f"(≤ {baseline * (1 - response_pct / 100):g})", BLUE, where="top right"))
    marks.append(_remission_mark(remission, scale.name, where="bottom left"))
    _decorate(fig, *marks)
    fig.add_scatter(x=x_of(scores), y=scores["total"], mode="lines+markers", name=scale.name,
                    line=dict(color=BLUE, width=2.5), marker=dict(size=8),
                    customdata=when if when is not None else scores["assessed_on"].dt.strftime("%Y-%m-%d"),
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
    from kdash import scales
    labels = [scales.item_label(scale.code, i) + (" (suicide item)" if i == scale.suicide_item
                                                  and scale.code not in scales.ITEM_NAMES else "")
              for i in range(1, scale.n_items + 1)]
    cols = [str(int(k)) if by == "session" else d.strftime("%d %b")
            for k, d in zip(items["after_session"], items["assessed_on"])]
    z = [[row[i] for row in items["items"]] for i in range(scale.n_items)]
    fig = Figure(go.Heatmap(z=z, x=list(range(len(cols))), y=labels, zmin=0, zmax=scale.item_max,
                               colorscale=[[0, "#FFFFFF"], [1, BLUE]], colorbar=dict(title="score"),
                               hovertemplate="%{y}: %{z}<extra></extra>"),
                    layout=dict(template="kdash", height=120 + 24 * scale.n_items))
    if scale.suicide_item:
        row = scale.suicide_item - 1
        fig.update_layout(shapes=[dict(type="rect", x0=-0.5, x1=len(cols) - 0.5, y0=row - 0.5, y1=row + 0.5,
                                       line=dict(color=VERMILLION, width=2.5))])
    fig.update_layout(title=f"{scale.name} item scores (0–{scale.item_max}; n = {len(cols)} assessments)",
                      xaxis=dict(tickmode="array", tickvals=list(range(len(cols))), ticktext=cols,
                                 title="Sessions given before the score" if by == "session" else "Date"),
                      yaxis=dict(autorange="reversed"))
    return fig


def _panel_threshold(y: float, text: str, colour: str, axis: str) -> list[dict]:
    """A labelled dashed line across one panel of a two-panel figure (axis "" or "2")."""
    return [dict(type="line", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1, y0=y, y1=y,
                 line=dict(color=colour, dash="dash", width=1.5)),
            dict(xref=f"x{axis} domain", yref=f"y{axis}", x=0, xanchor="left", y=y, yanchor="bottom", text=text,
                 showarrow=False, font=dict(color=colour, size=12), bgcolor="rgba(255,255,255,0.85)")]


def _two_panels(titles: tuple[str, str], height: int, x: dict, y: tuple[dict, dict], marks: list, **layout) -> dict:
    """The layout of two side-by-side panels (what make_subplots(rows=1, cols=2, horizontal_spacing=0.1) lays
    out), as one dict: make_subplots and the updates after it cost about 70 ms a chart. `x` applies to both x axes,
    `y` holds each panel's y axis; `marks` are _panel_threshold pairs."""
    titled = [dict(text=t, x=at, xref="paper", y=1.0, yref="paper", xanchor="center", yanchor="bottom",
                   showarrow=False, font=dict(size=16)) for t, at in zip(titles, (0.225, 0.775))]
    return dict(template="kdash", height=height + 30, margin=dict(t=110),
                legend=dict(y=1.2, yanchor="bottom"),   # above the panel titles
                xaxis=dict(anchor="y", domain=[0, 0.45], **x), yaxis=dict(anchor="x", domain=[0, 1], **y[0]),
                xaxis2=dict(anchor="y2", domain=[0.55, 1], **x), yaxis2=dict(anchor="x2", domain=[0, 1], **y[1]),
                shapes=[m[0] for m in marks], annotations=titled + [m[1] for m in marks], **layout)


def session_bp(bp: pd.DataFrame, safety: dict) -> go.Figure:
    """Systolic and diastolic BP per session before dosing, at ~40 min and at discharge, against the
    pre-dose caution and post-dose limit lines."""
    traces, marks = [], []
    for axis, kind in (("", "systolic"), ("2", "diastolic")):
        marks += [_panel_threshold(safety[f"predose_{kind}_max"], f"Pre-dose caution > {safety[f'predose_{kind}_max']}",
                                   ORANGE, axis),
                  _panel_threshold(safety[f"postdose_{kind}_max"], f"Post-dose limit > {safety[f'postdose_{kind}_max']}",
                                   VERMILLION, axis)]
        for point, colour, symbol in (("before dosing", GREY, "circle"), ("~40 min", BLUE, "diamond"),
                                      ("discharge", SKY, "square")):
            part = bp[bp["point"] == point]
            traces.append(dict(type="scatter", x=part["session_number"], y=part[kind], mode="markers+lines",
                               name=point, legendgroup=point, showlegend=axis == "", xaxis=f"x{axis}",
                               yaxis=f"y{axis}", marker=dict(color=colour, symbol=symbol, size=8),
                               line=dict(color=colour, width=1)))
    return Figure(data=traces, layout=_two_panels(
        ("Systolic (mmHg)", "Diastolic (mmHg)"), 360, {**_session_ticks(1, bp["session_number"].max()), "title": "Session"},
        ({}, {}), marks, title=f"Blood pressure per session (n = {bp['session_number'].nunique()} sessions)"))


def session_alertness(cadss: pd.DataFrame, moaas: pd.DataFrame, safety: dict) -> go.Figure:
    """CADSS (dissociation, its peak) and MOAA/S (sedation, its deepest) per session with their flag lines."""
    # a CADSS above the line is marked (clinical-reference §4: common early on, so shown here, not flagged)
    high = [VERMILLION if t > safety["cadss_max"] else PURPLE for t in cadss["total"]]
    traces = [dict(type="scatter", x=cadss["session_number"], y=cadss["total"], mode="lines+markers", name="CADSS",
                   line=dict(color=PURPLE), marker=dict(color=high, size=8), xaxis="x", yaxis="y"),
              dict(type="scatter", x=moaas["session_number"], y=moaas["total"], mode="lines+markers", name="MOAA/S",
                   line=dict(color=BLUE), xaxis="x2", yaxis="y2")]
    marks = [_panel_threshold(safety["cadss_max"], f"> {safety['cadss_max']}", VERMILLION, ""),
             _panel_threshold(safety["moaas_min"], f"≤ {safety['moaas_min']}", VERMILLION, "2")]
    cadss_top = max(cadss["total"].max() + 2 if len(cadss) else 10, safety["cadss_max"] + 2)
    last = max(cadss["session_number"].max() if len(cadss) else 1, moaas["session_number"].max() if len(moaas) else 1)
    return Figure(data=traces, layout=_two_panels(
        (f"CADSS, dissociation > {safety['cadss_max']}", f"MOAA/S, sedation ≤ {safety['moaas_min']}"), 320,
        {**_session_ticks(1, last), "title": "Session"}, ({"range": [-0.5, cadss_top]}, {"range": [-0.3, 5.5]}), marks,
        title=f"Dissociation (peak) and sedation (deepest) per session (n = {max(len(cadss), len(moaas))})",
        showlegend=False))


SEVERITY_LEVEL = {None: 0, "mild": 1, "moderate": 2, "severe": 3}    # 0: the source did not say


def side_effect_grid(effects: pd.DataFrame) -> go.Figure:
    """Side effects by session, shaded by severity (grey where the record gives none: never shown as mild)."""
    names = sorted(effects["effect"].unique())
    sessions = sorted(effects["session_number"].unique())
    z = [[None] * len(sessions) for _ in names]
    for e in effects.itertuples():
        z[names.index(e.effect)][sessions.index(e.session_number)] = \
            SEVERITY_LEVEL.get(e.severity if isinstance(e.severity, str) else None, 0)
    steps = [(0, "#BBBBBB"), (1, YELLOW), (2, ORANGE), (3, VERMILLION)]        # one flat colour per level
    scale = [[max(0.0, min(1.0, (lvl + edge) / 4)), colour] for lvl, colour in steps for edge in (0, 1)]
    fig = Figure(go.Heatmap(z=z, x=[str(int(s)) for s in sessions], y=[vocab.label(n, "effect") for n in names],
                               zmin=-0.5, zmax=3.5, colorscale=scale, showscale=False,
                               xgap=2, ygap=2, hovertemplate="%{y}, session %{x}<extra></extra>"),
                    layout=dict(template="kdash", height=max(260, 160 + 26 * len(names))))
    # a legend of the levels present, not a colour bar: four ticks on a short bar print over each other
    present = {v for row in z for v in row if v is not None}
    for lvl, colour in steps:
        if lvl in present:
            fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="square", size=13, color=colour),
                            name=["severity not recorded", "mild", "moderate", "severe"][lvl])
    fig.update_layout(title=f"Side effects by session (n = {len(effects)} reports)", xaxis_title="Session",
                      showlegend=True)
    return fig


STATUS_PALETTE = {"remitter": BLUE, "responder": SKY, "partial": YELLOW, "non-responder": GREY,
                  "worsening": VERMILLION, "not evaluable": "#DDDDDD"}
ROUTE_COLOURS = {"iv_ketamine": BLUE, "esketamine": ORANGE, "sc_ketamine": GREEN, "im_ketamine": PURPLE,
                 "oral_ketamine": GREY}


def _error_bars(rate, low, high) -> dict:
    return dict(type="data", symmetric=False, array=[h - r if h is not None else 0 for r, h in zip(rate, high)],
                arrayminus=[r - lo if lo is not None else 0 for r, lo in zip(rate, low)], color="#444", thickness=1.2)


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
    marks = [_threshold(-50, "Response: −50 %", BLUE, where="bottom right")]
    _decorate(fig, *marks)
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


def _tint(hex_colour: str, alpha: float = 0.15) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def retention_funnel(df: pd.DataFrame) -> go.Figure:
    fig = Figure(go.Funnel(y=df["step"], x=df["patients"], texttemplate="%{value:,} (%{percentInitial:.0%})",
                              marker=dict(color=BLUE)), layout=dict(template="kdash", height=380))
    fig.update_layout(title=f"Retention: how far patients got (n = {int(df['patients'].iloc[0]):,} started)")
    return fig


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


def bookings_by_period(df: pd.DataFrame, grain: str) -> go.Figure:
    """Bookings per week or month stacked by status."""
    fig = Figure(layout=dict(template="kdash", barmode="stack", height=340))
    for status in ("completed", "scheduled", "cancelled", "no_show"):
        if df[status].sum():
            fig.add_bar(x=df["period"], y=df[status], name=STATUS_LABELS[status], marker_color=STATUS_COLOURS[status])
    total = int(df[["completed", "scheduled", "cancelled", "no_show"]].sum().sum())
    fig.update_layout(title=f"Sessions per {grain} by status (n = {total:,} bookings)",
                      xaxis_title=f"{grain.capitalize()} beginning", yaxis_title="Sessions")
    return fig


def rates_by_period(df: pd.DataFrame, series: dict[str, tuple[str, str]], title: str, lines: dict | None = None) -> go.Figure:
    """Rates over time (e.g. no-shows, utilisation) as lines, with reference lines."""
    fig = Figure(layout=dict(template="kdash", height=320))
    for column, (name, colour) in series.items():
        fig.add_scatter(x=df["period"], y=df[column], mode="lines+markers", name=name, line=dict(color=colour))
    _decorate(fig, *[_threshold(y, text, GREY, dash="dot", where="top right") for y, text in (lines or {}).items()])
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
    fig.update_layout(title="Lead times (patients referred in the period)", xaxis=dict(title="Weeks", dtick=1),
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
    fig.update_layout(title="How far induction got (settled courses)", xaxis=dict(title="Induction sessions completed",
                      dtick=1), yaxis=dict(title="Share of patients", tickformat=".0%"))
    return fig


def session_timeline(sessions: pd.DataFrame) -> go.Figure:
    """Each completed session on a day-since-first-treatment axis, at its dose (mg/kg where weight is known,
    else mg), labelled with its number. `sessions` has day_number, session_number, dose_mg, mg_per_kg, route."""
    per_kg = sessions["mg_per_kg"].notna().all() and len(sessions) > 0
    y = sessions["mg_per_kg"] if per_kg else sessions["dose_mg"]
    fig = Figure(layout=dict(template="kdash", height=340))
    for route, part in sessions.groupby("route", sort=False):
        # numbers on every session while they fit; on a long course the first, every fifth and the last
        crowded = len(sessions) > 12
        last = int(sessions["session_number"].max())
        labels = [str(int(k)) if not crowded or k == 1 or k % 5 == 0 or k == last else "" for k in part["session_number"]]
        fig.add_scatter(x=part["day_number"], y=y[part.index], mode="markers+text", name=ROUTE_NAMES.get(route, route),
                        text=labels, textposition="top center", customdata=part["session_number"],
                        marker=dict(size=12, color=ROUTE_COLOURS.get(route, GREY), symbol="triangle-up"),
                        hovertemplate="session %{customdata}, day %{x}: %{y}<extra></extra>")
    top = float(y.max()) if len(y) and pd.notna(y.max()) else 1.0
    fig.update_layout(title=f"Sessions and doses by day since the first treatment (n = {len(sessions)} sessions)",
                      xaxis_title="Day since the first treatment (day 0)",
                      yaxis_title="Dose (mg/kg)" if per_kg else "Dose (mg)",
                      yaxis=dict(range=[0, top * 1.3]))       # room above the highest dose for its label
    return fig


PRESENTATION_WIDTH_PX = 1020     # what a title may use of an exported figure's 1,100 pixels


def for_presentation(fig: go.Figure | dict, scale: float = 1.3) -> dict:
    """The same figure with larger type, for a room and a projector (screen and export share it)."""
    fig = Figure(fig)
    base = TEMPLATE.layout.font.size or 13
    top = (fig.layout.margin.t or TEMPLATE.layout.margin.t or 80)
    # a long title in larger type would run off a 1,100-pixel figure: it keeps one line in smaller type
    title = fig.layout.title.text or ""
    title_size = min(round(15 * scale), int(PRESENTATION_WIDTH_PX / (0.55 * max(len(title), 1))))
    fig.update_layout(font=dict(size=round(base * scale)), title=dict(font=dict(size=title_size)),
                      margin=dict(t=round(top * scale)))   # the larger title and legend keep their room
    fig.update_annotations(font_size=round(12 * scale))
    return fig.to_dict()
