-- Each patient's score after session k (k = 0: baseline), observed only, for k ≤ $max_k;
-- $sample > 0 keeps that many patients (a fixed pseudo-random choice) for the spaghetti plot.
WITH cohort AS ({{cohort}}),
pts AS (
    SELECT * FROM score_points WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM cohort)
),
baseline AS (
    SELECT p.patient_id, 0 AS k, arg_max(p.total, p.assessed_on) AS total
    FROM pts p JOIN cohort c USING (patient_id)
    WHERE p.after_session = 0 AND p.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY p.patient_id
),
after_k AS (
    SELECT patient_id, after_session AS k, total
    FROM pts
    WHERE after_session BETWEEN 1 AND $max_k AND first_after AND (has_next OR days_after <= $window::INTEGER)
),
points AS (SELECT * FROM baseline UNION ALL SELECT * FROM after_k),
chosen AS (
    SELECT patient_id FROM baseline ORDER BY hash(patient_id), patient_id LIMIT (CASE WHEN $sample > 0 THEN $sample END)
)
SELECT p.patient_id, c.route, p.k, p.total
FROM points p JOIN cohort c USING (patient_id)
WHERE $sample = 0 OR p.patient_id IN (SELECT patient_id FROM chosen)
ORDER BY p.patient_id, p.k
