-- The waiting list on $end: referred, not yet consulted; consulted, not yet treated (booked or not).
WITH first_done AS (SELECT patient_id FROM course_facts WHERE first_day <= $end),
booked AS (SELECT DISTINCT patient_id FROM sessions WHERE status = 'scheduled')
SELECT CASE WHEN p.consultation_date IS NULL OR p.consultation_date > $end THEN 'awaiting consultation'
            WHEN b.patient_id IS NOT NULL THEN 'consulted, first treatment booked'
            ELSE 'consulted, not yet booked' END AS stage,
       count(*) AS patients, median($end::DATE - p.referral_date) AS median_days_waiting
FROM patients p
LEFT JOIN booked b USING (patient_id)
WHERE p.referral_date <= $end AND p.referral_date >= $end::DATE - 180
  AND p.patient_id NOT IN (SELECT patient_id FROM first_done)
GROUP BY ALL ORDER BY stage
