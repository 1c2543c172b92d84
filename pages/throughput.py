"""Throughput: the clinic manager's Monday view (clinical reference §7). Counts and rates only, no names or IDs."""

import datetime as dt

import streamlit as st

from kdash import ui
from kdash.clinical import deid, roster, throughput
from kdash.present import export, report

ui.require_app_frame()
cfg = ui.clinic_settings()
today = ui.today()

st.title("Throughput")
st.caption("Sessions, no-shows, chairs, waiting times and retention. Utilisation: booked chair-hours (each booking's "
           "slot for its route) or completed chair-hours inside opening hours, ÷ chairs × opening hours on open days "
           "(clinical reference §7); chair time after closing is shown apart. Every figure of a period is as it stood "
           "at the period's end, so a report remade later gives the same numbers.")
c = st.columns([2, 2, 2, 2])
preset = c[0].selectbox("Period", list(throughput.PRESETS), format_func=throughput.PRESETS.get, key="preset",
                        help="Whole weeks (Monday to Sunday) and whole calendar months, ending before today.")
compare = c[1].selectbox("Compared with", list(throughput.COMPARISONS), format_func=throughput.COMPARISONS.get,
                         key="compare")
try:
    if preset == "custom":
        start = c[2].date_input("From", value=today - dt.timedelta(days=90), min_value=dt.date(1990, 1, 1),
                                format="YYYY-MM-DD")
        end = c[3].date_input("To", value=today - dt.timedelta(days=1), min_value=dt.date(1990, 1, 1),
                              format="YYYY-MM-DD")
        throughput.check_range(start, end)
        grain = None
    else:
        start, end, grain = throughput.preset_period(preset, today)
        c[2].markdown(f"**{start:%d %b %Y}**  \nto **{end:%d %b %Y}**")
except throughput.RangeError as exc:
    st.error(f"Cannot show this period: {exc}.", icon=":material/date_range:")
    st.stop()
compare_start, compare_end = throughput.comparison_period(start, end, compare, preset)
c = st.columns(4)
grain = c[0].selectbox("Group by", list(throughput.GRAINS), format_func=str.capitalize,
                       index=list(throughput.GRAINS).index(grain or "week"), key=f"grain_{preset}")
route = c[1].selectbox("Route", ["all", *roster.ROUTE_NAMES], format_func=lambda r: "All routes" if r == "all"
                       else roster.ROUTE_NAMES[r])
chair = c[2].selectbox("Chair", [None, *ui.fetch("throughput.chairs")], format_func=lambda v: v or "All chairs")
clinician = c[3].selectbox("Clinician", [None, *ui.fetch("roster.clinicians")], format_func=lambda v: v or "All")
f = dict(start=start, end=end, grain=grain, route=route, chair=chair, clinician=clinician)
v = ui.fetch("throughput.page_view", **f, compare_start=compare_start, compare_end=compare_end)
per = v["periods"]
if per.empty:
    st.info(f"No sessions in this period ({start:%Y-%m-%d} to {end:%Y-%m-%d}) for these filters.",
            icon=":material/event_busy:")
    st.stop()


def report_file(kind: str):
    """The period's report, made on click from the same functions as this page (ui.download checks and audits)."""
    con = ui.connection_for("report.manager_report")

    def make() -> bytes:
        pack = report.manager_report(con, cfg, start=start, end=end, grain=grain, compare_start=compare_start,
                                     compare_end=compare_end, period_name=throughput.PRESETS[preset].lower(),
                                     compare_name=throughput.COMPARISONS[compare], route=route, chair=chair,
                                     clinician=clinician)
        return export.pdf(pack, projector=kind == "landscape") if kind in ("pdf", "landscape") else export.pptx(pack)
    return make


r = st.columns([1, 1, 1, 2])
slug = f"kdash-report-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}"
ready = export.browser() is not None
period_text = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, {route}, chair {chair or 'all'}, clinician {clinician or 'all'}"
ui.download("PDF report", report_file("pdf"), f"{slug}.pdf", "application/pdf", "export_report_pdf",
            "report.manager_report", detail=period_text, where=r[0], width="stretch", icon=":material/picture_as_pdf:",
            disabled=not ready, key="report_pdf")
ui.download("PDF to project", report_file("landscape"), f"{slug}-landscape.pdf", "application/pdf",
            "export_report_pdf", "report.manager_report", detail=period_text + ", landscape", where=r[1],
            width="stretch", icon=":material/present_to_all:", disabled=not ready, key="report_pdf_landscape",
            help="A4 landscape, one figure a page in large type")
ui.download("PowerPoint", report_file("pptx"), f"{slug}.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation", "export_report_pptx",
            "report.manager_report", detail=period_text, where=r[2], width="stretch", icon=":material/slideshow:",
            disabled=not ready, key="report_pptx")
r[3].caption("This period's throughput, utilisation, waiting times, retention and outcomes against the comparison, "
             "counts and rates only, cells under 5 patients suppressed." + ("" if ready else
             " Reports need Debian's Chromium on this server to draw the figures."))

t, figs = v["totals"], v["charts"]
now, before = t["now"], t["before"]


def delta(key, fmt, scale=1.0, unit=""):
    if now[key] is None or before[key] is None:
        return None
    return f"{(now[key] - before[key]) * scale:{fmt}}{unit}"


st.caption(f"Changes against {throughput.COMPARISONS[compare].lower()}: {compare_start:%d %b %Y} to "
           f"{compare_end:%d %b %Y}.")

k = st.columns(5)
k[0].metric("Completed sessions", f"{now['completed']:,}", delta("completed", "+,.0f"))
k[1].metric("No-show rate", ui.percent(now["no_show_rate"], 1), delta("no_show_rate", "+.1f", 100, " pts"),
            delta_color="inverse", help="No-shows ÷ bookings that fell due (completed, cancelled, no-show).")
k[2].metric("Late cancellations", ui.percent(now["late_cancel_rate"], 1), delta("late_cancel_rate", "+.1f", 100, " pts"),
            delta_color="inverse", help="Cancelled less than 24 h before the session ÷ bookings due.")
k[3].metric("Chair use, actual", ui.percent(now["actual_utilisation"]), delta("actual_utilisation", "+.0f", 100, " pts"),
            help=f"Completed chair-hours inside opening hours. Booked: {ui.percent(now['scheduled_utilisation'])} (each "
                 f"booking's slot). Outside opening hours: {now['out_of_hours_hours']:,.1f} chair-hours, not counted. "
                 "Infusion-centre medians: scheduled 80 %, actual 70 %.")
k[4].metric("To first treatment", "—" if now["median_days_to_treatment"] is None
            else f"{now['median_days_to_treatment']:.0f} days", delta("median_days_to_treatment", "+.0f", 1, " d"),
            delta_color="inverse", help="Median days from referral to the first treatment, patients referred in the "
                                        "period.")


def csv(df, name):
    ui.csv_download(df, f"{name}.csv", "throughput.page_view", f"Download {name.replace('-', ' ')} (CSV)", key=name)


# Only the open tab runs and draws (on_change="rerun"): eight figures at once took 0.8 s to draw in a browser.
tabs = st.tabs(["Sessions", "Chairs", "Waiting", "Patients and retention", "Esketamine monitoring",
                "Safety-flag follow-up"], key="throughput_section", on_change="rerun")
with tabs[0]:
    if tabs[0].open:
        ui.chart(figs["bookings"])
        left, right = st.columns(2)
        ui.chart(figs["no_shows"], left)
        ui.chart(figs["utilisation"], right)
        csv(per, "sessions-per-period")

with tabs[1]:
    if tabs[1].open:
        occ = v["occupancy"]
        if figs["occupancy"]:
            ui.chart(figs["occupancy"])
            csv(occ, "chair-occupancy")
        times = v["chair_time"]
        if figs["chair_time"]:
            ui.chart(figs["chair_time"])
            esk = times[times["route"] == "esketamine"]
            if len(esk):
                st.caption(f"Esketamine sessions under {cfg['safety']['esketamine_observation_minutes']} minutes in the chair: "
                           f"{int(esk['under_observe'].iloc[0]):,} of {int(esk['sessions'].iloc[0]):,} "
                           f"({esk['share_under_observation'].iloc[0]:.1%}).")
            csv(times.drop(columns=["minutes_histogram"]), "chair-time")

with tabs[2]:
    if tabs[2].open:
        left, right = st.columns([3, 2])
        leads = v["lead_times"]
        if figs["lead_times"]:
            ui.chart(figs["lead_times"], left)
        waiting = v["waiting"]
        right.subheader("Waiting list now")
        with right:
            # counts only: 1 to 4 patients read "<5", and their median wait is left out
            shown = ui.suppressed(waiting.assign(median_days_waiting=waiting["median_days_waiting"].round()), ["patients"],
                                  {"patients": ["median_days_waiting"]})
            ui.data_table(shown, column_config={
                "stage": st.column_config.TextColumn("Stage", width=175), "patients": st.column_config.TextColumn(
                    "Patients", width=65), "median_days_waiting": st.column_config.TextColumn(
                    "Median wait (days)", width=100, help="Median days since referral, of the patients at this stage")})
        right.caption("Patients referred in the last 180 days who have not started treatment; median wait: days since "
              "referral, to today.")
        csv(leads.drop(columns=["weeks_histogram"]), "lead-times")

with tabs[3]:
    if tabs[3].open:
        left, right = st.columns(2)
        ph, stops = v["phases"], v["stops"]
        ui.chart(figs["phases"], left)
        if figs["stops"]:
            ui.chart(figs["stops"], right)
        else:
            right.caption(f"Induction reach (how far induction got) is not shown: fewer than {deid.MIN_CELL} patients "
                          "began an induction on any route in this period.")
        csv(ph, "patients-by-phase")
        csv(stops, "induction-reach")

with tabs[4]:
    if tabs[4].open:
        mon = v["monitoring"]
        if mon["sessions"]:
            m = st.columns(4)
            m[0].metric("BP before dosing", ui.percent(mon["bp_before"][1], 1), f"{mon['bp_before'][0]:,} of {mon['sessions']:,}",
                        delta_color="off", delta_arrow="off")
            m[1].metric("BP at ~40 min", ui.percent(mon["bp_40"][1], 1), f"{mon['bp_40'][0]:,} of {mon['sessions']:,}",
                        delta_color="off", delta_arrow="off")
            m[2].metric(f"≥ {cfg['safety']['esketamine_observation_minutes']} min observed", ui.percent(mon["observed"][1], 1),
                        f"{mon['observed'][0]:,} of {mon['sessions']:,}", delta_color="off", delta_arrow="off")
            m[3].metric("All three", ui.percent(mon["all_three"][1], 1), f"{mon['all_three'][0]:,} of {mon['sessions']:,}",
                        delta_color="off", delta_arrow="off")
        else:
            st.caption("No esketamine session in this period.")

with tabs[5]:
    if tabs[5].open:
        loop = ui.fetch("worklist.loop_by_week", today=today, weeks=12)
        if loop.empty:
            st.caption("No safety flag raised in the last 12 weeks.")
        else:
            st.caption(f"Flags raised per week of their evidence (last 12 weeks) and how they were acknowledged; overdue: "
                       f"urgent flags acknowledged after more than {cfg['flags']['overdue_hours']} h, or not yet. Counts only.")
            ui.data_table(loop, column_config={
                "week": st.column_config.DateColumn("Week of", format="D MMM YYYY"),
                "raised": st.column_config.NumberColumn("Raised"), "acknowledged": st.column_config.NumberColumn("Acknowledged"),
                "median_hours": st.column_config.NumberColumn("Median time to acknowledge", format="%.1f h"),
                "p90_hours": st.column_config.NumberColumn("90th percentile", format="%.1f h"),
                "urgent": st.column_config.NumberColumn("Urgent"),
                "urgent_overdue": st.column_config.NumberColumn("Urgent overdue")})
            csv(loop, "safety-flag-follow-up")
