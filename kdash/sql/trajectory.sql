-- Each patient's score after session k (k = 0: baseline), observed only, for k ≤ $max_k;
-- $sample > 0 keeps that many patients (a fixed pseudo-random choice) for the spaghetti plot.
WITH cohort AS ({{cohort}}),
scores AS (
    SELECT patient_id, assessed_on, total FROM assessments
    WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM cohort)
),
numbered AS (
    SELECT patient_id, scheduled_at::DATE AS day, row_number() OVER w AS k, lead(scheduled_at::DATE) OVER w AS next_day
    FROM sessions WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM cohort)
    WINDOW w AS (PARTITION BY patient_id ORDER BY scheduled_at)
),
baseline AS (
    SELECT c.patient_id, 0 AS k, arg_max(s.total, s.assessed_on) AS total
    FROM cohort c JOIN scores s ON s.patient_id = c.patient_id
     AND s.assessed_on <= c.first_day AND s.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY c.patient_id
),
after_k AS (
    SELECT n.patient_id, n.k, arg_min(s.total, s.assessed_on) AS total
    FROM numbered n JOIN scores s ON s.patient_id = n.patient_id
     AND s.assessed_on > n.day AND s.assessed_on <= coalesce(n.next_day, n.day + $window::INTEGER)
    WHERE n.k <= $max_k
    GROUP BY n.patient_id, n.k
),
points AS (SELECT * FROM baseline UNION ALL SELECT * FROM after_k),
chosen AS (
    SELECT patient_id FROM baseline ORDER BY hash(patient_id), patient_id LIMIT (CASE WHEN $sample > 0 THEN $sample END)
)
SELECT p.patient_id, c.route, p.k, p.total
FROM points p JOIN cohort c USING (patient_id)
WHERE $sample = 0 OR p.patient_id IN (SELECT patient_id FROM chosen)
ORDER BY p.patient_id, p.k
