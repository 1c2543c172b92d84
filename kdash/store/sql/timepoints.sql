-- Response and remission at fixed timepoints (clinical-reference §1), one row per timepoint, the analysis set said as
-- it is: all treated ('itt') with the last score carried forward, or the baseline where there is none since (counted
-- as carried_last / carried_baseline); completers as observed cases (no score there: not evaluable). A course still
-- under way that has not reached the timepoint is counted apart (under_way), never as a failure. Each patient's
-- scores at each timepoint are defined in course_scores_build.sql.
WITH s AS ({{course_outcomes}}),
valued AS (
    SELECT 'after session 2' AS label, 1 AS ord, 2 AS k, baseline AS base, after_2 AS locf, obs_2 AS observed,
           under_way, n_sessions, first_scored_session FROM s
    UNION ALL
    SELECT 'after session 4', 2, 4, baseline, after_4, obs_4, under_way, n_sessions, first_scored_session FROM s
    UNION ALL
    SELECT 'after session 6', 3, 6, baseline, after_6, obs_6, under_way, n_sessions, first_scored_session FROM s
    UNION ALL
    SELECT 'end of induction', 4, planned, baseline, end_of_induction, obs_end, under_way, n_sessions,
           first_scored_session FROM s
    UNION ALL   -- the last observation of every course: none is short of it
    SELECT 'last observation', 5, NULL, baseline, last_observation, obs_last, FALSE, n_sessions, first_scored_session
    FROM s
),
judged AS (
    SELECT *, k IS NOT NULL AND under_way AND n_sessions < k AS pending,
           CASE WHEN $set = 'completers' THEN observed ELSE locf END AS value,
           CASE WHEN observed IS NOT NULL THEN 'observed'
                WHEN first_scored_session IS NULL OR first_scored_session >= coalesce(k, 1000000) THEN 'baseline'
                ELSE 'last score' END AS imputed
    FROM valued
)
SELECT label, ord, count(*) FILTER (WHERE NOT pending) AS n, count(*) FILTER (WHERE pending) AS under_way,
       count(*) FILTER (WHERE NOT pending AND base > 0 AND value IS NOT NULL) AS n_evaluable,
       count(*) FILTER (WHERE NOT pending AND base > 0 AND (base - value) / base >= $response) AS responders,
       count(*) FILTER (WHERE NOT pending AND base > 0 AND value <= $remission) AS remitters,
       count(*) FILTER (WHERE NOT pending AND base > 0 AND $set = 'itt' AND imputed = 'last score') AS carried_last,
       count(*) FILTER (WHERE NOT pending AND base > 0 AND $set = 'itt' AND imputed = 'baseline') AS carried_baseline
FROM judged
GROUP BY label, ord
ORDER BY ord
