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
