-- Time to first response per evaluable patient (a fall from baseline of at least the response threshold),
-- in sessions given and in days since the first session; censored at the last score when response never came (at 0 without one).
-- The first response and the last score are found in course_scores_build.sql.
SELECT patient_id, route, response_session IS NOT NULL AS responded,
       coalesce(response_session, last_scored_session, 0) AS sessions,
       coalesce(response_day, last_scored_day, 0) AS days
FROM ({{course_outcomes}})
WHERE baseline > 0
