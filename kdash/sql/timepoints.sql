-- Response and remission at fixed timepoints (clinical-reference §1), one row per timepoint. Each patient's
-- score at each timepoint is defined in course_scores_build.sql (LOCF, so every patient of the analysis set
-- counts at every timepoint).
WITH s AS ({{course_outcomes}}),
valued AS (
    SELECT 'after session 2' AS label, 1 AS ord, baseline AS base, after_2 AS value FROM s
    UNION ALL
    SELECT 'after session 4', 2, baseline, after_4 FROM s
    UNION ALL
    SELECT 'after session 6', 3, baseline, after_6 FROM s
    UNION ALL
    SELECT 'end of induction', 4, baseline, end_of_induction FROM s
    UNION ALL
    SELECT 'last observation', 5, baseline, last_observation FROM s
)
SELECT label, ord, count(*) AS n,
       count(*) FILTER (WHERE base > 0 AND value IS NOT NULL) AS n_evaluable,
       count(*) FILTER (WHERE base > 0 AND (base - value) / base >= $response) AS responders,
       count(*) FILTER (WHERE base > 0 AND value <= $remission) AS remitters
FROM valued
GROUP BY label, ord
ORDER BY ord
