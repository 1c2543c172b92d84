-- The clinic at a glance on $today: this week's sessions against last week's, like for like:
-- every session of the week not cancelled (done, still booked, or missed), Monday to Sunday.
WITH week AS (SELECT date_trunc('week', $today::DATE)::DATE AS monday)
SELECT
    (SELECT count(*) FROM sessions, week
      WHERE status <> 'cancelled' AND scheduled_at >= monday AND scheduled_at < monday + 7)
        AS sessions_this_week,
    (SELECT count(*) FROM sessions, week
      WHERE status <> 'cancelled' AND scheduled_at >= monday - 7 AND scheduled_at < monday)
        AS sessions_last_week
