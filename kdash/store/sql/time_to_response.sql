-- Time to first response of the evaluable patients (a fall from baseline of at least the response threshold), in
-- sessions given and in days since the first session, with the competing event (clinical-reference §1): a course
-- that ended without a response (no session in the last 21 days, none booked) stops at its last session; a course
-- still under way without one is censored at its last score (at 0 without one). Only a score that counts for a
-- session under the timepoint definition (the first after session k, by session k+1's day or within the window
-- after the last session) is a response or a censoring time: both are found in course_scores_build.sql.
-- outcome: 1 responded, 2 stopped without a response, 0 still under way. Counted per route, unit, time and outcome:
-- the cumulative incidence needs only these counts.
WITH r AS (
    SELECT route,
           CASE WHEN response_session IS NOT NULL THEN 1 WHEN NOT under_way THEN 2 ELSE 0 END AS outcome,
           CASE WHEN response_session IS NOT NULL THEN response_session WHEN NOT under_way THEN n_sessions
                ELSE coalesce(last_scored_session, 0) END AS sessions,
           CASE WHEN response_session IS NOT NULL THEN response_day WHEN NOT under_way THEN last_day - first_day
                ELSE coalesce(last_scored_day, 0) END AS days
    FROM ({{course_outcomes}})
    WHERE baseline > 0
)
SELECT route, 'sessions' AS unit, sessions AS time, outcome, count(*) AS patients FROM r GROUP BY ALL
UNION ALL
SELECT route, 'days' AS unit, days AS time, outcome, count(*) AS patients FROM r GROUP BY ALL
ORDER BY route, unit, time, outcome
