-- Lead times (days) for patients referred in [$start, $end]: median, quartiles and a weekly histogram; as they
-- stood at the end of $as_of (NULL: now): a consultation or first treatment after it had not happened yet.
WITH first_done AS (SELECT patient_id, first_day FROM ({{course_facts_asof}})),
seen AS (
    SELECT p.patient_id, p.referral_date,
           CASE WHEN $as_of IS NULL OR p.consultation_date <= $as_of THEN p.consultation_date END AS consultation_date
    FROM patients p WHERE p.referral_date BETWEEN $start AND $end
),
x AS (
    SELECT p.consultation_date - p.referral_date AS to_consultation,
           f.first_day - p.consultation_date AS consultation_to_treatment,
           f.first_day - p.referral_date AS to_treatment
    FROM seen p LEFT JOIN first_done f USING (patient_id)
),
long AS (
    SELECT 1 AS ord, 'referral → consultation' AS step, to_consultation AS days FROM x
    UNION ALL SELECT 2, 'consultation → first treatment', consultation_to_treatment FROM x
    UNION ALL SELECT 3, 'referral → first treatment', to_treatment FROM x
)
SELECT step, count(days) AS patients, quantile_cont(days, 0.25) AS q1, median(days) AS median,
       quantile_cont(days, 0.75) AS q3, histogram(days // 7) AS weeks_histogram
FROM long WHERE days IS NOT NULL GROUP BY ord, step ORDER BY ord
