"""Pure chart functions: DataFrame → plotly Figure, in one visual language across pages (style.py: Okabe–Ito
colours, colour-blind safe; improvement never carried by red/green alone; thresholds as labelled dashed lines;
units and n in titles; an explicit template, so an exported PNG looks like the figure on screen).

One module per page's charts; callers use `charts.<name>`."""

from __future__ import annotations

from kdash.present.charts.outcomes import (  # noqa: F401
    course_calibration,
    mean_trajectory,
    response_incidence,
    retention_funnel,
    timepoint_rates,
    waterfall,
)
from kdash.present.charts.patient import (  # noqa: F401
    SEVERITY_LEVEL,
    bp_outside_sessions,
    item_heatmap,
    expected_course,
    mood_trend,
    scale_by_date,
    session_alertness,
    session_bp,
    session_timeline,
    side_effect_grid,
)
from kdash.present.charts.side_effects import (  # noqa: F401
    by_session_number,
    effect_frequencies,
    grouped_rates,
    severity_split,
)
from kdash.present.charts.style import (  # noqa: F401
    BAND_TINTS,
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PRESENTATION_WIDTH_PX,
    PURPLE,
    ROUTE_COLOURS,
    SKY,
    STATUS_COLOURS,
    STATUS_LABELS,
    STATUS_PALETTE,
    TEMPLATE,
    TEMPLATE_SPEC,
    VERMILLION,
    YELLOW,
    Figure,
    for_presentation,
)
from kdash.present.charts.throughput import (  # noqa: F401
    bookings_by_period,
    chair_time_bars,
    induction_reach,
    lead_time_bars,
    occupancy_heatmap,
    phase_counts,
    quality_by_week,
    rates_by_period,
    sessions_per_week,
)
from kdash.vocab import ROUTES as ROUTE_NAMES  # noqa: F401 - one vocabulary for tables and charts
