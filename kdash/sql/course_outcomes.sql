-- One row per treated patient: baseline and last observation on one scale (clinical-reference §1; both defined
-- in course_scores_build.sql); no score after baseline → the baseline is carried forward (change 0). Each row
-- keeps the patient's cohort and course-score columns, so the other outcome queries can read this alone.
-- A scale without a remission threshold ($remission NULL, BDI-II): remitter is NULL, remission not defined.
WITH joined AS (
    SELECT * REPLACE (coalesce(last_score, baseline) AS last_score),
           CASE WHEN baseline > 0 THEN (baseline - coalesce(last_score, baseline)) / baseline END AS pct_change
    FROM ({{cohort_scores}})
)
SELECT *,
       pct_change IS NOT NULL AS evaluable,
       pct_change >= $response AS responder,
       CASE WHEN $remission IS NOT NULL THEN pct_change IS NOT NULL AND last_score <= $remission END AS remitter,
       CASE WHEN pct_change IS NULL THEN 'not evaluable'
            WHEN pct_change >= $response AND last_score <= $remission THEN 'remitter'
            WHEN pct_change >= $response THEN 'responder'
            WHEN last_score <= $remission THEN 'remitter'
            WHEN pct_change >= $partial THEN 'partial'
            WHEN pct_change < 0 THEN 'worsening'
            ELSE 'non-responder' END AS status
FROM joined
