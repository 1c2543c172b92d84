-- Bookings due in [$start, $end] matching the filters, with the chair time each took (chair_minutes: a completed
-- session's own length, else its route's slot), the time it was booked for (booked_minutes: the route's slot, from
-- the booking, never the time it took) and a completed session's minutes inside and outside opening hours
-- ($opening to $closing on its day: chair time after closing is shown apart, not counted as use of opening hours).
SELECT session_id, patient_id, scheduled_at, status, route, phase, chair, clinician, started_at, ended_at,
       cancelled_at,
       CASE WHEN status = 'completed' AND ended_at > started_at THEN date_diff('minute', started_at, ended_at)
            ELSE slot END AS chair_minutes,
       slot AS booked_minutes,
       CASE WHEN status = 'completed' AND ended_at > started_at
            THEN greatest(0, date_diff('minute', greatest(started_at, started_at::DATE + to_hours($opening::BIGINT)),
                                       least(ended_at, started_at::DATE + to_hours($closing::BIGINT))))
       END AS in_hours_minutes,
       period
FROM (
    SELECT *, CASE route WHEN 'iv_ketamine' THEN $min_iv WHEN 'esketamine' THEN $min_esk
                         WHEN 'sc_ketamine' THEN $min_sc ELSE $min_other END AS slot,
           date_trunc($grain, scheduled_at)::DATE AS period
    FROM sessions
    WHERE scheduled_at >= $start::DATE AND scheduled_at < $end::DATE + 1
      AND ($route = 'all' OR route = $route)
      AND ($chair IS NULL OR chair = $chair)
      AND ($clinician IS NULL OR clinician = $clinician)
)
