-- Demo calibration figures (clinical-reference §5-§7), over courses that began at least 60 days ago
-- so that dropout is not confused with a course still under way.
WITH done AS (
    SELECT patient_id, count(*) AS n, min(scheduled_at)::DATE AS first_day,
           count(*) FILTER (WHERE phase = 'induction') AS n_induction, arg_min(route, (scheduled_at, session_id)) AS route
    FROM sessions WHERE status = 'completed' GROUP BY patient_id
),
settled AS (SELECT * FROM done WHERE first_day <= $today::DATE - 60),
booked AS (
    SELECT count(*) FILTER (WHERE status = 'no_show') AS no_shows,
           count(*) FILTER (WHERE status <> 'scheduled') AS bookings
    FROM sessions
)
SELECT
    (SELECT count(*) FROM settled) AS settled_patients,
    (SELECT avg((n = 1)::INTEGER) FROM settled) AS stopped_after_first,
    (SELECT avg((n_induction < CASE route WHEN 'iv_ketamine' THEN $ind_iv ELSE $ind_esk END)::INTEGER)
       FROM settled) AS not_completing_induction,
    (SELECT no_shows / bookings FROM booked) AS no_show_rate
