-- Esketamine monitoring (label): BP before dosing, BP at ~40 min, and ≥ $observe minutes of observation.
WITH b AS ({{bookings}}),
esk AS (SELECT session_id, chair_minutes FROM b WHERE status = 'completed' AND route = 'esketamine'),
v AS (
    SELECT session_id, bool_or(minute < 0) AS pre, bool_or(minute BETWEEN 30 AND 60) AS at_40
    FROM vitals WHERE session_id IN (SELECT session_id FROM esk) GROUP BY session_id
)
SELECT count(*) AS sessions,
       count(*) FILTER (WHERE coalesce(v.pre, FALSE)) AS bp_before,
       count(*) FILTER (WHERE coalesce(v.at_40, FALSE)) AS bp_40,
       count(*) FILTER (WHERE chair_minutes >= $observe) AS observed,
       count(*) FILTER (WHERE coalesce(v.pre, FALSE) AND coalesce(v.at_40, FALSE) AND chair_minutes >= $observe) AS all_three
FROM esk LEFT JOIN v USING (session_id)
