"""One patient's charts: the mood-score trend, the item heatmap, blood pressure, dissociation and sedation by session,
side effects, the course's sessions by day."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kdash import vocab
from kdash.present.charts.style import (
    BLUE,
    GREY,
    ORANGE,
    PURPLE,
    ROUTE_COLOURS,
    SKY,
    VERMILLION,
    YELLOW,
    Figure,
    _band,
    _band_tints,
    _decorate,
    _legend_line,
    _panel_threshold,
    _remission_mark,
    _session_axis,
    _session_ticks,
    _threshold,
    _two_panels,
)
from kdash.vocab import ROUTES as ROUTE_NAMES  # one vocabulary for tables and charts


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
    own = scores["source"].eq("self_report").to_numpy() if "source" in scores else None
    if own is not None and own.any():      # the patient's own scores (check-in), ringed: marked wherever shown
        fig.add_scatter(x=x_of(scores)[own], y=scores["total"][own], mode="markers", name="Self-reported (check-in)",
                        marker=dict(symbol="circle-open", size=14, color=BLUE, line=dict(width=2)),
                        customdata=(pd.Series(when)[own] if when is not None
                                    else scores["assessed_on"][own].dt.strftime("%Y-%m-%d")),
                        hovertemplate="%{y} on %{customdata}, self-reported<extra></extra>")
    if len(sessions):
        sx = sessions["session_number"] if by == "session" else sessions["day"]
        routes = sessions["route"] if "route" in sessions else pd.Series([None] * len(sessions), index=sessions.index)
        dose = [f"Session {int(k)} · {mg:g} mg" + (f" ({mg / 28:.0f} devices)" if r == "esketamine" else
                                                   f" ({kg:.2f} mg/kg)" if pd.notna(kg) else "")
                for k, mg, kg, r in zip(sessions["session_number"], sessions["dose_mg"].fillna(0),
                                        sessions["mg_per_kg"], routes)]
        # each marker carries its dose as a value, not only on hover: mg/kg for weight-based ketamine, mg for
        # esketamine; with many sessions the labels would run together, so the hover alone says it
        short = [(f"{mg:g} mg" if r == "esketamine" else f"{kg:.2f}" if pd.notna(kg) else f"{mg:g} mg")
                 if pd.notna(mg) else "" for mg, kg, r in zip(sessions["dose_mg"], sessions["mg_per_kg"], routes)]
        labelled = len(sessions) <= 16
        esk = routes.eq("esketamine")
        unit = "mg" if esk.all() else "mg/kg" if not esk.any() else "mg/kg; esketamine in mg"
        fig.add_scatter(x=sx, y=[0] * len(sessions), mode="markers+text" if labelled else "markers",
                        name=f"Session (dose, {unit})", marker=dict(symbol="triangle-up", size=11, color=ORANGE),
                        text=short if labelled else None, textposition="top center",
                        textfont=dict(size=10, color="#444444"), customdata=dose,
                        hovertemplate="%{customdata}<extra></extra>")
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


def session_bp(bp: pd.DataFrame, safety: dict) -> go.Figure:
    """Systolic and diastolic BP per session before dosing, at ~40 min and at discharge, against the
    pre-dose caution and post-dose limit lines."""
    traces, marks = [], []
    # the lines are named in the legend, not written across the panel, where the readings near them would sit
    # under the words (issue 36)
    for name, key, colour in (("Pre-dose caution", "predose", ORANGE), ("Post-dose limit", "postdose", VERMILLION)):
        traces.append(_legend_line(f"{name} > {safety[f'{key}_systolic_max']}/{safety[f'{key}_diastolic_max']}",
                                   colour))
    for axis, kind in (("", "systolic"), ("2", "diastolic")):
        marks += [_panel_threshold(safety[f"predose_{kind}_max"], "", ORANGE, axis),
                  _panel_threshold(safety[f"postdose_{kind}_max"], "", VERMILLION, axis)]
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
    # a CADSS above the line is marked (clinical reference §4: common early on, so shown here, not flagged)
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
    # each cell says its level in words too (readable without colour, and a single effect reads as a row of
    # sessions, not as one bar cut into blocks); with many sessions the cells are too narrow for words
    words = ["unrated", "mild", "mod.", "severe"]
    text = [[words[v] if v is not None else "" for v in row] for row in z] if len(sessions) <= 16 else None
    fig = Figure(go.Heatmap(z=z, x=[str(int(s)) for s in sessions], y=[vocab.label(n, "effect") for n in names],
                               zmin=-0.5, zmax=3.5, colorscale=scale, showscale=False, text=text,
                               texttemplate="%{text}" if text else None, textfont=dict(size=11, color="#111111"),
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


def session_timeline(sessions: pd.DataFrame) -> go.Figure:
    """Each completed session on a day-since-first-treatment axis, at its dose (mg/kg where weight is known,
    else mg), labelled with its number. `sessions` has day_number, session_number, dose_mg, mg_per_kg, route."""
    # mg/kg for the weight-based routes only: esketamine is a fixed dose (28 mg devices), shown in mg
    per_kg = (len(sessions) > 0 and sessions["mg_per_kg"].notna().all()
              and not (sessions["route"] == "esketamine").any())
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


def expected_course(doc: dict, x_label: str = "Sessions given before the score", response_pct: float = 50) -> go.Figure:
    """The patient's change from baseline after each session over the clinic's expected course (kdash/clinical/
    course.py): the 10th–90th percentile band and the median of earlier courses of the route, where shown. Change as
    the score moved: down is better, as on the mood trend."""
    fig = Figure(layout=dict(template="kdash", height=360))
    band = pd.DataFrame(doc["expected"])
    if len(band):
        x = band["session"]
        fig.add_scatter(x=x, y=-band["p90"] * 100, mode="lines", line=dict(width=0), hoverinfo="skip",
                        showlegend=False)
        fig.add_scatter(x=x, y=-band["p10"] * 100, mode="lines", line=dict(width=0), fill="tonexty",
                        fillcolor="rgba(86,180,233,0.25)", name="Earlier courses, 10th–90th percentile",
                        customdata=band["n"], hovertemplate="10th percentile %{y:.0f} % (n = %{customdata})<extra></extra>")
        fig.add_scatter(x=x, y=-band["median_pct_change"] * 100, mode="lines", name="Earlier courses, median",
                        line=dict(color=GREY, width=2, dash="dash"), customdata=band["n"],
                        hovertemplate="median %{y:.0f} % (n = %{customdata})<extra></extra>")
    mine = pd.DataFrame(doc["patient"])
    if len(mine):
        fig.add_scatter(x=mine["session"], y=-mine["pct_change"] * 100, mode="lines+markers", name="This patient",
                        line=dict(color=BLUE, width=2.5), marker=dict(size=8),
                        hovertemplate="after %{x}: %{y:.0f} %<extra></extra>")
    _decorate(fig, _threshold(-response_pct, f"Response: {response_pct:g} % fall", BLUE, where="bottom right"))
    fig.update_layout(title=f"{doc['scale']} change from baseline against {doc['reference_courses']} earlier "
                            "courses of this route", xaxis_title=x_label,
                      yaxis_title="Change (%), down is better",
                      yaxis=dict(range=[-105, 60]))
    last = max([1, *(mine["session"] if len(mine) else []), *(band["session"] if len(band) else [])])
    _session_axis(fig, 1, last)
    return fig


def scale_by_date(scores: pd.DataFrame, scale) -> go.Figure:
    """A scale that is not a depression outcome (PHQ-2, GAD-7, C-SSRS) over dates, on its severity bands: no
    baseline, response or remission is drawn, because none is defined for it (clinical reference §1)."""
    fig = Figure(layout=dict(template="kdash", height=300))
    fig.add_scatter(x=scores["assessed_on"], y=scores["total"], mode="lines+markers", name=scale.name,
                    line=dict(color=BLUE), marker=dict(size=8))
    tints = _band_tints(len(scale.bands))
    _decorate(fig, *[_band(low - 0.5 if low else 0, high + 0.5, tint, label)
                     for (low, high, label), tint in zip(scale.bands, tints)])
    fig.update_layout(title=f"{scale.name} by date (n = {len(scores)})", xaxis_title="Date",
                      yaxis=dict(title=f"{scale.name} total (0–{scale.total_max})", range=[0, scale.total_max + 0.5]),
                      showlegend=False)
    return fig


def bp_outside_sessions(bp: pd.DataFrame, safety: dict) -> go.Figure:
    """Blood pressure readings outside sessions (screening, a GP's, an import's) by date, against the clinic's
    screening line (settings: [eligibility] bp_systolic_max / bp_diastolic_max)."""
    fig = Figure(layout=dict(template="kdash", height=300))
    for kind, colour, symbol in (("systolic", BLUE, "circle"), ("diastolic", SKY, "diamond")):
        fig.add_scatter(x=bp["measured_at"], y=bp[kind], mode="lines+markers", name=kind.capitalize(),
                        line=dict(color=colour), marker=dict(color=colour, symbol=symbol, size=8))
    _decorate(fig, _threshold(safety["systolic"], f"Screening line, systolic > {safety['systolic']}", ORANGE,
                              where="top right"),
              _threshold(safety["diastolic"], f"diastolic > {safety['diastolic']}", ORANGE, where="top right"))
    fig.update_layout(title=f"Blood pressure outside sessions (n = {len(bp)} readings)", xaxis_title="Date",
                      yaxis_title="mmHg")
    return fig
