-- Patients per period by phase: treated in induction or maintenance that period, and courses that ended
-- that period (last session then, none after it and none booked) as finished (induction complete) or stopped.
WITH b AS ({{bookings}}),
course AS (SELECT patient_id, last_day AS last_at, n_induction, route FROM ({{course_facts_asof}})),   -- a day
ended AS (
    SELECT date_trunc($grain, c.last_at)::DATE AS period,
           CASE WHEN c.n_induction >= CASE c.route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                                                   WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END
                THEN 'finished' ELSE 'stopped' END AS phase, c.patient_id
    FROM course c
    WHERE c.last_at >= $start::DATE AND c.last_at < $end::DATE - 21   -- 3 weeks without a session: ended
      AND c.patient_id IN (SELECT patient_id FROM b)
      AND ($as_of IS NOT NULL OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = c.patient_id
                                                 AND s.status = 'scheduled'))   -- a past period reads no bookings
)
SELECT period, phase, count(DISTINCT patient_id) AS patients
FROM b WHERE status = 'completed' GROUP BY ALL
UNION ALL
SELECT period, phase, count(*) FROM ended GROUP BY ALL
ORDER BY period, phase
