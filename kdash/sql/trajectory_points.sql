-- Each patient's observed score after session k (k = 0: baseline), for k ≤ $max_k, with the patient's route:
-- the points of the mean course and of the individual trajectories.
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
points AS (SELECT * FROM baseline UNION ALL SELECT * FROM after_k)
SELECT p.patient_id, c.route, p.k, p.total
FROM points p JOIN cohort c USING (patient_id)
