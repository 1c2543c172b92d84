-- How far the cohort's patients got: session 1, 2, 4, 6 and maintenance (read from the course outcomes, one row
-- per treated patient of the cohort, which the outcome page has already computed).
WITH cohort AS ({{course_outcomes}})
SELECT count(*) AS session_1, count(*) FILTER (WHERE n_sessions >= 2) AS session_2,
       count(*) FILTER (WHERE n_sessions >= 4) AS session_4, count(*) FILTER (WHERE n_sessions >= 6) AS session_6,
       count(*) FILTER (WHERE n_maintenance > 0) AS maintenance
FROM cohort
