-- Time to first response of the evaluable patients (a fall from baseline of at least the response threshold),
-- in sessions given and in days since the first session; censored at the last score when response never came
-- (at 0 without one). Only a score that counts for a session under the timepoint definition of
-- clinical-reference §1 (the first after session k, by session k+1's day or within the window after the last
-- session) is an event or a censoring time: both are found in course_scores_build.sql.
-- Counted per route, unit, time and outcome: a Kaplan–Meier curve needs only these counts.
WITH r AS (
    SELECT route, response_session IS NOT NULL AS responded,
           coalesce(response_session, last_scored_session, 0) AS sessions,
           coalesce(response_day, last_scored_day, 0) AS days
    FROM ({{course_outcomes}})
    WHERE baseline > 0
)
SELECT route, 'sessions' AS unit, sessions AS time, responded, count(*) AS patients FROM r GROUP BY ALL
UNION ALL
SELECT route, 'days' AS unit, days AS time, responded, count(*) AS patients FROM r GROUP BY ALL
ORDER BY route, unit, time, responded
