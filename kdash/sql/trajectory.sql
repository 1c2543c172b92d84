-- Individual trajectories (observed scores after each session, sql/trajectory_points.sql) of a fixed
-- pseudo-random sample of $sample patients (all when $sample is 0), for the spaghetti plot.
WITH t AS ({{trajectory_points}}),
chosen AS (
    SELECT DISTINCT patient_id FROM t WHERE k = 0
    ORDER BY hash(patient_id), patient_id LIMIT (CASE WHEN $sample > 0 THEN $sample END)
)
SELECT patient_id, route, k, total
FROM t
WHERE $sample = 0 OR patient_id IN (SELECT patient_id FROM chosen)
ORDER BY patient_id, k
