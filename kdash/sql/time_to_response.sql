-- Time to first response per evaluable patient (a fall of ≥ $response from baseline), in sessions given and
-- in days since the first session; censored at the last score when response never came (at 0 without one).
WITH po AS ({{course_outcomes}}),
evaluable AS (SELECT patient_id, route, first_day, baseline FROM po WHERE evaluable),
timed AS (
    SELECT p.patient_id, p.assessed_on, p.total, p.after_session
    FROM score_points p
    WHERE p.scale = $scale AND p.after_session >= 1 AND p.patient_id IN (SELECT patient_id FROM evaluable)
)
SELECT e.patient_id, e.route,
       count(*) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response) > 0 AS responded,
       coalesce(min(t.after_session) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response),
                max(t.after_session), 0) AS sessions,
       coalesce(min(t.assessed_on - e.first_day) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response),
                max(t.assessed_on - e.first_day), 0) AS days
FROM evaluable e LEFT JOIN timed t ON t.patient_id = e.patient_id
GROUP BY e.patient_id, e.route
