-- Time to first response per evaluable patient (a fall of ≥ $response from baseline), in sessions given and
-- in days since the first session; censored at the last score when response never came (at 0 without one).
WITH po AS ({{course_outcomes}}),
evaluable AS (SELECT patient_id, route, first_day, baseline FROM po WHERE evaluable),
scores AS (
    SELECT a.patient_id, a.assessed_on, a.total FROM assessments a
    WHERE a.scale = $scale AND a.patient_id IN (SELECT patient_id FROM evaluable)
),
numbered AS (
    SELECT patient_id, scheduled_at::DATE AS day, row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at) AS k
    FROM sessions WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM evaluable)
),
timed AS (   -- each later score with the number of sessions given before it
    SELECT s.patient_id, s.assessed_on, s.total, coalesce(n.k, 0) AS after_session
    FROM scores s ASOF LEFT JOIN numbered n ON s.patient_id = n.patient_id AND s.assessed_on > n.day
)
SELECT e.patient_id, e.route,
       count(*) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response) > 0 AS responded,
       coalesce(min(t.after_session) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response),
                max(t.after_session), 0) AS sessions,
       coalesce(min(t.assessed_on - e.first_day) FILTER (WHERE (e.baseline - t.total) / e.baseline >= $response),
                max(t.assessed_on - e.first_day), 0) AS days
FROM evaluable e LEFT JOIN timed t ON t.patient_id = e.patient_id AND t.assessed_on > e.first_day
GROUP BY e.patient_id, e.route
