"""The clinic manager's view (issue 6): throughput, chairs, waiting times, retention, monitoring.
Counts and rates only: nothing here returns a patient's name or ID."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash.clinical import stats
from kdash.store import db

GRAINS = ("week", "month")


class RangeError(ValueError):
    pass


# A report's period: whole weeks (Monday to Sunday) or whole calendar months and quarters, ending before today
# (today's sessions are not over), each compared with a period like it.
PRESETS = {"last_month": "Last full month", "last_quarter": "Last full quarter",
           "last_12_weeks": "Last 12 complete weeks", "this_month": "This month to yesterday", "custom": "Custom dates"}
COMPARISONS = {"previous": "The period before", "year": "The same period a year earlier"}


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


def preset_period(preset: str, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """(start, end, grain) of a preset; RangeError when it has no complete day yet."""
    yesterday = today - dt.timedelta(days=1)
    if preset == "last_month":
        start = _month_start(today, 1)
        return start, _month_start(today) - dt.timedelta(days=1), "week"
    if preset == "last_quarter":
        this_quarter = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return _month_start(this_quarter, 3), this_quarter - dt.timedelta(days=1), "month"
    if preset == "last_12_weeks":
        end = today - dt.timedelta(days=today.weekday() + 1)          # the last Sunday before today
        return end - dt.timedelta(weeks=12) + dt.timedelta(days=1), end, "week"
    if preset == "this_month":
        if today.day == 1:
            raise RangeError("this month has no complete day yet (today is the 1st); choose the last full month")
        return today.replace(day=1), yesterday, "week"
    raise ValueError(f"unknown period {preset!r}")


def comparison_period(start: dt.date, end: dt.date, compare: str = "previous",
                      preset: str = "custom") -> tuple[dt.date, dt.date]:
    """The period a report compares with: the one before it of the same kind (the month before a month, the
    quarter before a quarter, as many weeks before, the same days of the month before), or the same one a
    year earlier (52 weeks earlier for weeks, so weekdays line up)."""
    if compare == "year":
        if preset in ("last_12_weeks", "custom"):
            return start - dt.timedelta(weeks=52), end - dt.timedelta(weeks=52)
        return _shift_year(start), _shift_year(end)
    if compare != "previous":
        raise ValueError(f"unknown comparison {compare!r}")
    if preset == "last_month":
        return _month_start(start, 1), start - dt.timedelta(days=1)
    if preset == "last_quarter":
        return _month_start(start, 3), start - dt.timedelta(days=1)
    if preset == "this_month":
        before = _month_start(start, 1)
        last_day = start - dt.timedelta(days=1)
        return before, before.replace(day=min(end.day, last_day.day))
    length = end - start
    return start - length - dt.timedelta(days=1), start - dt.timedelta(days=1)


def _shift_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:          # 29 February
        return day.replace(year=day.year - 1, day=28)


def check_range(start: dt.date, end: dt.date) -> None:
    if start > end:
        raise RangeError(f"the period starts ({start:%Y-%m-%d}) after it ends ({end:%Y-%m-%d}); swap the dates")


def params(cfg: dict, start: dt.date, end: dt.date, grain: str = "week", route: str = "all",
           chair: str | None = None, clinician: str | None = None) -> dict:
    check_range(start, end)
    if grain not in GRAINS:
        raise ValueError(f"unknown grouping {grain!r}")
    c, ind = cfg["chairs"], cfg["induction"]
    # every figure of a period as it stood at the period's end, so a report remade later gives the same numbers;
    # a period that reaches today reads the record as it is now
    as_of = end if end < dt.date.today() else None
    return {"start": start, "end": end, "grain": grain, "route": route, "chair": chair, "clinician": clinician,
            "as_of": as_of, "ids": None, "opening": cfg["clinic"]["opening_hour"], "closing": cfg["clinic"]["closing_hour"],
            "min_iv": c["iv_ketamine_minutes"], "min_esk": c["esketamine_minutes"], "min_sc": c["sc_ketamine_minutes"],
            "min_other": c["im_ketamine_minutes"], "observe": cfg["safety"]["esketamine_observation_minutes"],
            "ind_iv": ind["iv_ketamine"], "ind_esk": ind["esketamine"], "ind_sc": ind["sc_ketamine"],
            "ind_other": ind["im_ketamine"]}


def open_days(cfg: dict, start: dt.date, end: dt.date) -> list[dt.date]:
    """The clinic's open days in [start, end] (settings: open_weekdays)."""
    open_ = set(cfg["clinic"]["open_weekdays"])
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)
            if (start + dt.timedelta(days=i)).weekday() in open_]


def available_hours(cfg: dict, chairs: int, start: dt.date, end: dt.date) -> float:
    """Chair-hours on offer: chairs × opening hours × open days (clinical reference §7)."""
    hours = cfg["clinic"]["closing_hour"] - cfg["clinic"]["opening_hour"]
    return chairs * hours * len(open_days(cfg, start, end))


def _period_bounds(period: dt.date, grain: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    if grain == "week":
        last = period + dt.timedelta(days=6)
    else:
        nxt = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = nxt - dt.timedelta(days=1)
    return max(period, start), min(last, end)


def _full_length(period: dt.date, grain: str) -> int:
    """Days in the whole week or calendar month that begins on `period`."""
    first, last = _period_bounds(period, grain, dt.date.min, dt.date.max)
    return (last - first).days + 1


def part_label(row, grain: str) -> str:
    """'part week: 1 of 7 days (1 Nov)' for a period cut by the report's ends; '' for a whole one."""
    if not row["partial"]:
        return ""
    a, b = pd.Timestamp(row["first_day"]), pd.Timestamp(row["last_day"])
    days = f"{a:%-d %b}" if a == b else f"{a:%-d %b} to {b:%-d %b}"
    return f"part {grain}: {int(row['days'])} of {int(row['full_days'])} days ({days})"


def chair_count(con: duckdb.DuckDBPyConnection, chair: str | None) -> int:
    if chair is not None:
        return 1
    return int(db.scalar(con, "SELECT count(*) FROM chairs WHERE active") or 0)


def periods(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    """Per week or month: bookings by status, no-show and late-cancellation rates, scheduled and actual
    chair utilisation."""
    p = params(cfg, **filters)
    df = db.query(con, "throughput_periods", p)
    chairs = chair_count(con, p["chair"])
    due = df["completed"] + df["cancelled"] + df["no_show"]
    df["no_show_rate"] = (df["no_show"] / due).where(due > 0)
    df["late_cancel_rate"] = (df["late_cancelled"] / due).where(due > 0)
    bounds = [_period_bounds(pd.Timestamp(x).date(), p["grain"], p["start"], p["end"]) for x in df["period"]]
    df["open_days"] = [len(open_days(cfg, a, b)) for a, b in bounds]     # fewer in a week cut by the period's ends
    # a week or month cut by the report's start or end is a part period: drawn and labelled as one, never as a trend
    df["first_day"] = [a for a, _ in bounds]
    df["last_day"] = [b for _, b in bounds]
    df["days"] = [(b - a).days + 1 for a, b in bounds]
    df["full_days"] = [_full_length(pd.Timestamp(x).date(), p["grain"]) for x in df["period"]]
    df["partial"] = df["days"] < df["full_days"]
    df["available_hours"] = [available_hours(cfg, chairs, a, b) for a, b in bounds]
    df["scheduled_utilisation"] = (df["booked_hours"] / df["available_hours"]).where(df["available_hours"] > 0)
    df["actual_utilisation"] = (df["completed_hours"] / df["available_hours"]).where(df["available_hours"] > 0)
    return df


def totals(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> dict:
    """The period's headline figures, each with the same figure for the period of equal length before it."""
    return {"now": _totals(con, cfg, filters), "before": previous_totals(con, cfg, **filters)}


def previous_totals(con: duckdb.DuckDBPyConnection, cfg: dict, compare_start: dt.date | None = None,
                    compare_end: dt.date | None = None, **filters) -> dict:
    """The headline figures of the comparison period (by default the period of equal length just before)."""
    p = params(cfg, **filters)
    if compare_start is None or compare_end is None:
        compare_start, compare_end = comparison_period(p["start"], p["end"])
    return _totals(con, cfg, {**filters, "start": compare_start, "end": compare_end})


def _totals(con, cfg, filters) -> dict:
    p = params(cfg, **filters)
    per = db.query(con, "throughput_periods", {**p, "grain": "year"})
    return headline(per, db.query(con, "lead_times", p), offered_hours(con, cfg, p))


def offered_hours(con, cfg: dict, p: dict) -> float:
    """Chair-hours on offer over the whole period of these query parameters (the chair filter: one chair)."""
    return available_hours(cfg, chair_count(con, p["chair"]), p["start"], p["end"])


def headline(per: pd.DataFrame, lead: pd.DataFrame, hours: float) -> dict:
    """Headline figures from a period's bookings (rows of throughput_periods at any grain: they sum the same),
    its lead times and the chair-hours on offer."""
    s = per.sum(numeric_only=True) if len(per) else pd.Series(dtype=float)
    due = s.get("completed", 0) + s.get("cancelled", 0) + s.get("no_show", 0)
    to_treat = lead[lead["step"] == "referral → first treatment"]
    return {"completed": int(s.get("completed", 0)), "bookings": int(due + s.get("scheduled", 0)),
            "no_show_rate": stats.rate(s.get("no_show", 0), due), "late_cancel_rate": stats.rate(s.get("late_cancelled", 0), due),
            "actual_utilisation": s.get("completed_hours", 0) / hours if hours else None,
            "scheduled_utilisation": s.get("booked_hours", 0) / hours if hours else None,
            "out_of_hours_hours": float(s.get("out_of_hours_hours", 0)),
            "median_days_to_treatment": float(to_treat["median"].iloc[0]) if len(to_treat) else None}


def occupancy(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    """Share of chair capacity in use by weekday and clock hour (completed sessions)."""
    p = params(cfg, **filters)
    df = db.query(con, "occupancy", p)
    chairs = chair_count(con, p["chair"])
    days = pd.Series([d.weekday() for d in open_days(cfg, p["start"], p["end"])]).value_counts().to_dict()
    df["days"] = df["weekday"].map(days).fillna(0)
    df["occupancy"] = (df["minutes"] / (60 * chairs * df["days"])).where(df["days"] > 0)
    return df


def chair_time(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    df = db.query(con, "chair_time", params(cfg, **filters))
    df["share_under_observation"] = df["under_observe"] / df["sessions"]
    return df


def lead_times(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    return db.query(con, "lead_times", params(cfg, **filters))


def waiting_list(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    return db.query(con, "waiting_list", params(cfg, **filters))


def phases(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    return db.query(con, "phases_over_time", params(cfg, **filters))


def induction_stops(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    return db.query(con, "induction_stops", params(cfg, **filters))


def monitoring(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> dict:
    row = db.query(con, "monitoring_compliance", params(cfg, **filters)).iloc[0]
    n = int(row["sessions"])
    return {"sessions": n, **{k: (int(row[k]), stats.rate(int(row[k]), n))
                              for k in ("bp_before", "bp_40", "observed", "all_three")}}


def chairs(con: duckdb.DuckDBPyConnection, cfg: dict) -> list[str]:
    return [r[0] for r in db.query(con, "chair_list").itertuples(index=False)]


