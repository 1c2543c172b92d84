-- Each patient's phase on $today, the one definition the roster, the home page and the CLI share:
--   referred (no session), waiting (a session booked, none done), induction or maintenance (the phase of the
--   booked session, else of the last done within $under_way_days days), finished (the planned induction given, then
--   nothing under way), stopped (fewer), deceased. Active = referred, waiting, induction or maintenance.
-- Sessions at the same time are taken in session ID order (as in sql/patient_header.sql).
WITH done AS (
    SELECT patient_id, count(*) AS n_sessions, max(scheduled_at)::DATE AS last_day,
           arg_max(phase, (scheduled_at, session_id)) AS last_phase, arg_min(route, (scheduled_at, session_id)) AS route,
           count(*) FILTER (WHERE phase IS DISTINCT FROM 'maintenance') AS n_induction
    FROM sessions WHERE status = 'completed' GROUP BY patient_id
),
booked AS (
    SELECT patient_id, min(scheduled_at) AS next_session, arg_min(phase, (scheduled_at, session_id)) AS next_phase,
           arg_min(route, (scheduled_at, session_id)) AS next_route
    FROM sessions WHERE status = 'scheduled' AND scheduled_at >= $today::DATE GROUP BY patient_id
)
SELECT p.patient_id, coalesce(d.route, b.next_route) AS route, coalesce(d.n_sessions, 0) AS sessions,
       d.patient_id IS NOT NULL AS treated, b.next_session,
       CASE WHEN p.deceased THEN 'deceased'
            WHEN d.patient_id IS NULL AND b.patient_id IS NULL THEN 'referred'
            WHEN d.patient_id IS NULL THEN 'waiting'
            WHEN b.patient_id IS NOT NULL THEN b.next_phase
            WHEN d.last_day >= $today::DATE - $under_way_days::INTEGER THEN d.last_phase
            WHEN d.n_induction >= CASE d.route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                                               WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END THEN 'finished'
            ELSE 'stopped' END AS phase
FROM patients p
LEFT JOIN done d USING (patient_id)
LEFT JOIN booked b USING (patient_id)
