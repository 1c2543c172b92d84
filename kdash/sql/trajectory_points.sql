-- Each patient's observed score after session k (k = 0: baseline), for k ≤ $max_k, with the patient's route:
-- the points of the mean course and of the individual trajectories.
WITH s AS ({{course_outcomes}}),
after_k AS (
    SELECT patient_id, after_session AS k, total
    FROM score_points
    WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM s)
      AND after_session BETWEEN 1 AND $max_k AND first_after AND (has_next OR days_after <= $window::INTEGER)
),
points AS (
    SELECT patient_id, 0 AS k, baseline AS total FROM s WHERE baseline IS NOT NULL
    UNION ALL
    SELECT * FROM after_k
)
SELECT p.patient_id, s.route, p.k, p.total
FROM points p JOIN s USING (patient_id)
