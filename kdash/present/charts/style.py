"""The one visual language of every chart: Okabe–Ito colours (colour-blind safe), the lean template a figure carries, and
the marks charts share (labelled dashed thresholds, tinted bands, notes); figures for a presentation."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from kdash import vocab

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
    fig.update_layout(shapes=[p[0] for p in pairs if p[0] is not None],
                      annotations=[p[1] for p in pairs if len(p) > 1 and p[1] is not None])   # a line may go unlabelled


def _legend_line(name: str, colour: str, dash: str = "dash") -> dict:
    """A line that stands in the legend only: names a threshold drawn across the plot without writing over the data."""
    return dict(type="scatter", x=[None], y=[None], mode="lines", line=dict(color=colour, dash=dash), name=name,
                hoverinfo="skip")


def _session_ticks(first: float, last: float) -> dict:
    """Whole sessions on x; every tick while they fit."""
    return dict(range=[first - 0.5, last + 0.5], dtick=1 if last - first <= 20 else None, tick0=0)


def _session_axis(fig: go.Figure, first: float, last: float) -> None:
    fig.update_xaxes(**_session_ticks(first, last))


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
                shapes=[m[0] for m in marks], annotations=titled + [m[1] for m in marks if m[1]["text"]], **layout)


STATUS_PALETTE = {"remitter": BLUE, "responder": SKY, "partial": YELLOW, "non-responder": GREY,
                  "worsening": VERMILLION, "not evaluable": "#DDDDDD"}
ROUTE_COLOURS = {"iv_ketamine": BLUE, "esketamine": ORANGE, "sc_ketamine": GREEN, "im_ketamine": PURPLE,
                 "oral_ketamine": GREY}


def _error_bars(rate, low, high) -> dict:
    return dict(type="data", symmetric=False, array=[h - r if h is not None else 0 for r, h in zip(rate, high)],
                arrayminus=[r - lo if lo is not None else 0 for r, lo in zip(rate, low)], color="#444", thickness=1.2)


def _tint(hex_colour: str, alpha: float = 0.15) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


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
