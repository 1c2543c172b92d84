-- One row per treated patient: baseline and last observation on one scale (clinical-reference §1; both defined
-- in course_scores_build.sql); all treated: no score after baseline → the baseline is carried forward (change 0);
-- completers: observed cases, no score after baseline → not evaluable. Each row
-- keeps the patient's cohort and course-score columns, so the other outcome queries can read this alone.
-- A scale without a remission threshold ($remission NULL, BDI-II): remitter is NULL, remission not defined.
WITH observed AS (   -- all treated: the last score, else the baseline carried forward; completers: observed only
    SELECT * REPLACE (CASE WHEN $set = 'completers' THEN obs_last ELSE coalesce(last_score, baseline) END AS last_score)
    FROM ({{cohort_scores}})
),
joined AS (
    SELECT *, CASE WHEN baseline > 0 THEN (baseline - last_score) / baseline END AS pct_change FROM observed
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
