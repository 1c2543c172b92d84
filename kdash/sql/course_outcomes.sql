-- One row per treated patient: baseline and last observation on one scale (clinical-reference §1).
-- baseline: the last score on or before the first completed session's day, at most $lookback days before.
-- last observation: the latest score from the first session's day to $window days after the last session;
-- none after baseline → the baseline is carried forward (change 0).
WITH cohort AS ({{cohort}}),
scores AS (
    SELECT a.patient_id, a.assessed_on, a.total
    FROM score_points a
    WHERE a.scale = $scale AND a.patient_id IN (SELECT patient_id FROM cohort)
),
ends AS (   -- baseline and last observation in one pass over each patient's scores
    SELECT c.patient_id,
           arg_max(s.total, s.assessed_on) FILTER (
               WHERE s.assessed_on <= c.first_day AND s.assessed_on >= c.first_day - $lookback::INTEGER) AS baseline,
           arg_max(s.total, s.assessed_on) FILTER (
               WHERE s.assessed_on >= c.first_day AND s.assessed_on <= c.last_day + $window::INTEGER) AS last_score,
           max(s.assessed_on) FILTER (
               WHERE s.assessed_on >= c.first_day AND s.assessed_on <= c.last_day + $window::INTEGER) AS last_on
    FROM cohort c JOIN scores s USING (patient_id)
    GROUP BY c.patient_id
),
joined AS (
    SELECT c.patient_id, c.route, c.first_day, c.last_day, c.n_sessions, c.completer,
           e.baseline, coalesce(e.last_score, e.baseline) AS last_score, e.last_on,
           CASE WHEN e.baseline > 0 THEN (e.baseline - coalesce(e.last_score, e.baseline)) / e.baseline END AS pct_change
    FROM cohort c
    LEFT JOIN ends e USING (patient_id)
)
SELECT *,
       pct_change IS NOT NULL AS evaluable,
       pct_change >= $response AS responder,
       pct_change IS NOT NULL AND last_score <= $remission AS remitter,
       CASE WHEN pct_change IS NULL THEN 'not evaluable'
            WHEN pct_change >= $response AND last_score <= $remission THEN 'remitter'
            WHEN pct_change >= $response THEN 'responder'
            WHEN last_score <= $remission THEN 'remitter'
            WHEN pct_change >= $partial THEN 'partial'
            WHEN pct_change < 0 THEN 'worsening'
            ELSE 'non-responder' END AS status
FROM joined
