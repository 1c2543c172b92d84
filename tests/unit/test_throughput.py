"""The manager's figures on a small hand-built schedule (clinical-reference §7)."""

import pandas as pd
import pytest

from kdash import settings
from kdash.clinical import throughput
from kdash.present.views import throughput as throughput_view
from tests.builders import Clinic, D0, day

CFG = settings.load()        # open Mon–Fri 8:00–18:00


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    c = Clinic(str(tmp_path_factory.mktemp("tp") / "tp.duckdb"))
    c.con.execute("INSERT INTO chairs VALUES ('Chair 1', TRUE), ('Chair 2', TRUE)")
    c.patient("A", referral_date=day(-40), consultation_date=day(-30))    # first treatment on day 0: 40 days
    c.patient("B", referral_date=day(-20), consultation_date=day(-10))    # first treatment on day 1: 21 days
    c.patient("C", referral_date=day(-10), consultation_date=day(-2))     # never treated
    # week of Monday D0: 4 completed (2 × 90 min, 2 × 60 min), 1 no-show, 1 cancelled late, 1 cancelled early
    c.session("A", 0, minutes=90)
    c.session("A", 2, minutes=90)
    c.session("B", 1, minutes=60)
    c.session("B", 3, minutes=60)
    c.session("A", 4, status="no_show")
    late = c.session("B", 4, status="cancelled")
    early = c.session("A", 3, status="cancelled")
    c.con.execute("UPDATE sessions SET cancelled_at = scheduled_at - INTERVAL 2 HOUR WHERE session_id = ?", [late])
    c.con.execute("UPDATE sessions SET cancelled_at = scheduled_at - INTERVAL 3 DAY WHERE session_id = ?", [early])
    yield c.con
    c.close()


WEEK = dict(start=D0, end=day(6))


def test_no_show_and_late_cancellation_rates(clinic):
    per = throughput.periods(clinic, CFG, **WEEK).iloc[0]
    assert (per["completed"], per["no_show"], per["cancelled"], per["late_cancelled"]) == (4, 1, 2, 1)
    assert per["no_show_rate"] == pytest.approx(1 / 7)            # no-shows ÷ bookings due (4 + 1 + 2)
    assert per["late_cancel_rate"] == pytest.approx(1 / 7)


def test_utilisation_scheduled_and_actual(clinic):
    per = throughput.periods(clinic, CFG, **WEEK).iloc[0]
    assert per["available_hours"] == 2 * 10 * 5                 # 2 chairs × 10 h × 5 open days
    assert per["completed_hours"] == pytest.approx(5.0)          # 90 + 90 + 60 + 60 minutes
    assert per["actual_utilisation"] == pytest.approx(5 / 100)
    # booked time is the booking's: the route's slot (IV: 75 min) for the 4 completed and the no-show, whatever the
    # sessions then took; cancellations freed their chair
    assert per["booked_hours"] == pytest.approx(5 * 75 / 60)
    assert per["scheduled_utilisation"] == pytest.approx((5 * 75 / 60) / 100)
    assert per["out_of_hours_hours"] == 0


def test_chair_time_after_closing_is_shown_apart_not_counted_as_use(tmp_path):
    """Open 8:00–18:00: a session from 17:00 to 18:30 used 60 minutes of opening hours and 30 after closing."""
    c = Clinic(str(tmp_path / "late.duckdb"))
    try:
        c.con.execute("INSERT INTO chairs VALUES ('Chair 1', TRUE)")
        c.patient("A")
        sid = c.session("A", 0, minutes=90)
        c.con.execute("UPDATE sessions SET scheduled_at = scheduled_at + INTERVAL 8 HOUR, started_at = started_at + "
                      "INTERVAL 8 HOUR, ended_at = ended_at + INTERVAL 8 HOUR WHERE session_id = ?", [sid])
        per = throughput.periods(c.con, CFG, **WEEK).iloc[0]
        now = throughput.totals(c.con, CFG, **WEEK)["now"]
    finally:
        c.close()
    assert per["completed_hours"] == pytest.approx(1.0) and per["out_of_hours_hours"] == pytest.approx(0.5)
    assert per["actual_utilisation"] == pytest.approx(1.0 / 50)               # 1 chair × 10 h × 5 days
    assert per["booked_hours"] == pytest.approx(75 / 60)
    assert now["out_of_hours_hours"] == pytest.approx(0.5)


def test_available_hours_counts_open_days_only():
    assert throughput.available_hours(CFG, 3, D0, day(13)) == 3 * 10 * 10   # two weeks, weekends closed


def test_lead_times(clinic):
    lead = throughput.lead_times(clinic, CFG, start=day(-60), end=day(6)).set_index("step")
    assert lead.loc["referral → first treatment", "patients"] == 2
    assert lead.loc["referral → first treatment", "median"] == pytest.approx((40 + 21) / 2)
    assert lead.loc["referral → consultation", "median"] == 10
    assert lead.loc["consultation → first treatment", "median"] == pytest.approx((30 + 11) / 2)


def test_a_period_is_computed_as_of_its_end(clinic):
    """B's first treatment (day 1) came after a period ending on day 0: then, B was still waiting."""
    lead = throughput.lead_times(clinic, CFG, start=day(-60), end=day(0)).set_index("step")
    assert lead.loc["referral → first treatment", "patients"] == 1
    assert lead.loc["referral → first treatment", "median"] == 40
    waiting = throughput.waiting_list(clinic, CFG, start=day(-60), end=day(0)).set_index("stage")["patients"]
    assert waiting.to_dict() == {"consulted, not yet treated": 2}                  # B and C


def test_headline_figures_and_the_period_before(clinic):
    span = dict(start=day(-60), end=day(6))
    figures = throughput.totals(clinic, CFG, **span)
    now, before = figures["now"], figures["before"]
    open_days = sum(1 for i in range(-60, 7) if day(i).weekday() < 5)
    assert (now["completed"], now["bookings"]) == (4, 7)
    assert now["no_show_rate"] == pytest.approx(1 / 7) and now["late_cancel_rate"] == pytest.approx(1 / 7)
    assert now["actual_utilisation"] == pytest.approx(5 / (2 * 10 * open_days))
    assert now["scheduled_utilisation"] == pytest.approx((5 * 75 / 60) / (2 * 10 * open_days))
    assert now["median_days_to_treatment"] == pytest.approx((40 + 21) / 2)
    # the 67 days before: no bookings, no referrals
    assert (before["completed"], before["bookings"], before["no_show_rate"], before["median_days_to_treatment"]) == \
        (0, 0, None, None)
    # the page's view reuses its weekly rows for the headline: the same figures
    assert throughput_view.page_view(clinic, CFG, **span)["totals"] == figures


def test_a_reversed_range_is_refused():
    with pytest.raises(throughput.RangeError, match="starts .* after it ends"):
        throughput.params(CFG, day(5), day(1))


def test_nothing_identifying_in_the_manager_figures(clinic):
    frames = [throughput.periods(clinic, CFG, **WEEK), throughput.occupancy(clinic, CFG, **WEEK),
              throughput.chair_time(clinic, CFG, **WEEK), throughput.lead_times(clinic, CFG, **WEEK),
              throughput.waiting_list(clinic, CFG, **WEEK), throughput.phases(clinic, CFG, **WEEK)]
    for df in frames:
        assert "patient_id" not in df.columns and "given_name" not in df.columns
        assert not df.astype(str).isin(["A", "B", "C", "Test"]).any().any()


def test_a_week_cut_by_the_period_is_a_part_week_drawn_apart_from_the_trend(tmp_path):
    """Issue 36: a period from Wednesday of the first week to Monday of the next but one: the first week has 5 of its
    7 days inside, the last 1; both are part weeks, hatched in the bookings chart, and their rates are open markers
    off the line, never points of the trend."""
    from kdash.present import charts
    c = Clinic(str(tmp_path / "part.duckdb"))
    c.con.execute("INSERT INTO chairs VALUES ('Chair 1', TRUE)")
    c.patient("A")
    for n, status in ((2, "completed"), (3, "no_show"), (8, "completed"), (9, "no_show"), (10, "completed"),
                      (14, "completed"), (28, "completed"), (30, "completed")):
        c.session("A", n, status=status)
    clinic = c.con
    per = throughput.periods(clinic, CFG, start=day(2), end=day(14), grain="week")
    assert list(per["days"]) == [5, 7, 1] and list(per["partial"]) == [True, False, True]
    assert throughput.part_label(per.iloc[0], "week") == f"part week: 5 of 7 days ({day(2):%-d %b} to {day(6):%-d %b})"
    assert throughput.part_label(per.iloc[2], "week") == f"part week: 1 of 7 days ({day(14):%-d %b})"
    assert throughput.part_label(per.iloc[1], "week") == ""
    bars = charts.bookings_by_period(per, "week")
    assert list(bars.data[0].marker.pattern.shape) == ["/", "", "/"] and "hatched: part week" in bars.layout.title.text
    rates = charts.rates_by_period(per, {"no_show_rate": ("No-shows", "#000000")}, "No-shows", grain="week")
    line, part = rates.data
    assert pd.isna(line.y[0]) and pd.isna(line.y[2]) and line.y[1] == per["no_show_rate"].iloc[1]
    assert list(part.y) == [per["no_show_rate"].iloc[0], per["no_show_rate"].iloc[2]]
    assert part.marker.symbol == "circle-open" and part.name == "No-shows, part week"
    month = throughput.periods(clinic, CFG, start=D0.replace(day=1), end=day(30), grain="month")
    assert list(month["partial"]) == [False, True]         # March 2026 whole; 1 April only: 1 of 30 days
    assert list(month["days"]) == [31, 1] and list(month["full_days"]) == [31, 30]
    c.close()
