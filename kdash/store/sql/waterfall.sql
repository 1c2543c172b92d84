-- Each evaluable patient's % change at the last observation; at most $limit patients (a fixed pseudo-random
-- choice when there are more), ordered from the largest rise to the largest fall.
WITH po AS ({{course_outcomes}})
SELECT patient_id, route, pct_change, status, count(*) OVER () AS n_evaluable
FROM po WHERE evaluable
QUALIFY row_number() OVER (ORDER BY hash(patient_id), patient_id) <= $limit
ORDER BY pct_change
