-- The waiting list at the end of $end: referred in the 180 days before, not yet treated; awaiting consultation, or
-- consulted. As the period's end saw it ($as_of set: nothing recorded after it is read, and since a booking's own
-- date is not kept, consulted patients are one stage); for a period ending now, consulted patients are split by
-- whether their first treatment is booked.
WITH first_done AS (SELECT patient_id FROM ({{course_facts_asof}}) WHERE first_day <= $end),
booked AS (SELECT DISTINCT patient_id FROM sessions WHERE status = 'scheduled' AND $as_of IS NULL)
SELECT CASE WHEN p.consultation_date IS NULL OR p.consultation_date > $end THEN 'awaiting consultation'
            WHEN $as_of IS NOT NULL THEN 'consulted, not yet treated'
            WHEN b.patient_id IS NOT NULL THEN 'consulted, first treatment booked'
            ELSE 'consulted, not yet booked' END AS stage,
       count(*) AS patients, median($end::DATE - p.referral_date) AS median_days_waiting
FROM patients p
LEFT JOIN booked b USING (patient_id)
WHERE p.referral_date <= $end AND p.referral_date >= $end::DATE - 180
  AND p.patient_id NOT IN (SELECT patient_id FROM first_done)
GROUP BY ALL ORDER BY stage
