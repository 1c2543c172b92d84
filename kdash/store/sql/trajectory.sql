-- Individual trajectories (observed scores after each session, sql/trajectory_points.sql) of a fixed
-- pseudo-random sample of $sample patients (all when $sample is 0), for the spaghetti plot.
SELECT patient_id, route, k, total
FROM ({{trajectory_points}})
ORDER BY patient_id, k
