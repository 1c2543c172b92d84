-- Each treated patient's course so far (≥ 1 completed session): the route of the first session, first and
-- last treatment day, and completed sessions in all, in induction (anything not maintenance) and in maintenance;
-- as they stood at the end of $as_of (NULL: now).
SELECT patient_id, arg_min(route, (scheduled_at, session_id)) AS route, min(scheduled_at)::DATE AS first_day,
       max(scheduled_at)::DATE AS last_day, count(*) AS n_sessions,
       count(*) FILTER (WHERE phase IS DISTINCT FROM 'maintenance') AS n_induction,
       count(*) FILTER (WHERE phase = 'maintenance') AS n_maintenance
FROM sessions
WHERE status = 'completed' AND ($ids IS NULL OR list_contains($ids, patient_id))
  AND ($as_of IS NULL OR scheduled_at < $as_of::DATE + 1)
GROUP BY patient_id
