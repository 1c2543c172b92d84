-- The cohort with its course on the chosen scale (course_scores_build.sql): read from the course_scores table
-- when its settings stamp is the current one ($scores_current) and the figures are for now ($as_of NULL), else
-- computed live with the current settings from the record as it stood at the end of $as_of.
-- DuckDB prunes the branch the bound parameter rules out, so only one of the two is ever run.
SELECT c.*, s.* EXCLUDE (patient_id, scale)
FROM ({{cohort}}) c
LEFT JOIN (
    SELECT * FROM course_scores WHERE $scores_current AND $as_of IS NULL AND scale = $scale
    UNION ALL
    SELECT * FROM ({{course_scores_build}}) WHERE NOT ($scores_current AND $as_of IS NULL) AND scale = $scale
) s USING (patient_id)
