-- Each patient's observed score after session k (k = 0: baseline), for k ≤ $max_k, with the patient's route:
-- the points of the mean course ($sample = 0: every patient) and of the individual trajectories (a fixed
-- pseudo-random sample of $sample patients with a baseline, chosen before any score is read).
WITH co AS ({{course_outcomes}}),
s AS (   -- one branch runs: DuckDB prunes the other for the bound $sample
    SELECT * FROM co WHERE $sample = 0
    UNION ALL
    (SELECT * FROM co WHERE $sample > 0 AND baseline IS NOT NULL ORDER BY hash(patient_id), patient_id LIMIT $sample)
),
after_k AS (
    SELECT patient_id, s.route, p.after_session AS k, p.total
    FROM ({{score_points_asof}}) p JOIN s USING (patient_id)
    WHERE p.scale = $scale AND p.after_session BETWEEN 1 AND $max_k AND p.first_after
      AND (p.has_next OR p.days_after <= $window::INTEGER)
)
SELECT patient_id, route, 0 AS k, baseline AS total FROM s WHERE baseline IS NOT NULL
UNION ALL
SELECT * FROM after_k
