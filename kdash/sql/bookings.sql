-- Bookings due in [$start, $end] matching the filters, with the chair time each took or would take.
SELECT session_id, patient_id, scheduled_at, status, route, phase, chair, clinician, started_at, ended_at,
       cancelled_at,
       CASE WHEN status = 'completed' AND ended_at > started_at THEN date_diff('minute', started_at, ended_at)
            ELSE CASE route WHEN 'iv_ketamine' THEN $min_iv WHEN 'esketamine' THEN $min_esk
                            WHEN 'sc_ketamine' THEN $min_sc ELSE $min_other END END AS chair_minutes,
       date_trunc($grain, scheduled_at)::DATE AS period
FROM sessions
WHERE scheduled_at >= $start::DATE AND scheduled_at < $end::DATE + 1
  AND ($route = 'all' OR route = $route)
  AND ($chair IS NULL OR chair = $chair)
  AND ($clinician IS NULL OR clinician = $clinician)
