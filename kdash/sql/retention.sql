-- How far the cohort's patients got: session 1, 2, 4, 6 and maintenance.
WITH cohort AS ({{cohort}})
SELECT count(*) AS session_1, count(*) FILTER (WHERE n_sessions >= 2) AS session_2,
       count(*) FILTER (WHERE n_sessions >= 4) AS session_4, count(*) FILTER (WHERE n_sessions >= 6) AS session_6,
       count(*) FILTER (WHERE n_maintenance > 0) AS maintenance
FROM cohort
