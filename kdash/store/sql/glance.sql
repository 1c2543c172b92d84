-- The clinic at a glance on $today: active patients and this week's sessions against last week's, like for like:
-- every session of the week not cancelled (done, still booked, or missed), Monday to Sunday.
WITH week AS (SELECT date_trunc('week', $today::DATE)::DATE AS monday)
SELECT
    (SELECT count(DISTINCT patient_id) FROM sessions
      WHERE ((status = 'completed' AND scheduled_at >= $today::DATE - 30 AND scheduled_at < $today::DATE + 1)
         OR (status = 'scheduled' AND scheduled_at >= $today::DATE AND scheduled_at < $today::DATE + 31))
        AND patient_id NOT IN (SELECT patient_id FROM patients WHERE deceased))   -- a death ends a course
        AS active_patients,
    (SELECT count(*) FROM sessions, week
      WHERE status <> 'cancelled' AND scheduled_at >= monday AND scheduled_at < monday + 7)
        AS sessions_this_week,
    (SELECT count(*) FROM sessions, week
      WHERE status <> 'cancelled' AND scheduled_at >= monday - 7 AND scheduled_at < monday)
        AS sessions_last_week
