-- Response and remission at fixed timepoints (clinical-reference §1), one row per timepoint.
-- Score after session k: the first score after session k's day, on or before session k+1's day (or within
-- $window days when there is none). Missing, or session k never reached: the last score so far is carried
-- forward (LOCF), so every patient of the analysis set counts at every timepoint.
WITH cohort AS ({{cohort}}),
scores AS (
    SELECT patient_id, assessed_on, total FROM assessments
    WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM cohort)
),
baseline AS (
    SELECT c.patient_id, arg_max(s.total, s.assessed_on) AS base
    FROM cohort c JOIN scores s ON s.patient_id = c.patient_id
     AND s.assessed_on <= c.first_day AND s.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY c.patient_id
),
numbered AS (
    SELECT patient_id, scheduled_at::DATE AS day,
           row_number() OVER w AS k, lead(scheduled_at::DATE) OVER w AS next_day
    FROM sessions
    WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM cohort)
    WINDOW w AS (PARTITION BY patient_id ORDER BY scheduled_at)
),
timepoints AS (
    SELECT * FROM (VALUES ('after session 2', 1, 2), ('after session 4', 2, 4), ('after session 6', 3, 6),
                          ('end of induction', 4, 0), ('last observation', 5, -1)) t(label, ord, k)
),
anchored AS (
    SELECT c.patient_id, c.first_day, c.last_day, t.label, t.ord, n.day, n.next_day
    FROM cohort c CROSS JOIN timepoints t
    LEFT JOIN numbered n ON n.patient_id = c.patient_id
     AND n.k = CASE WHEN t.k = 0 THEN c.planned ELSE t.k END
),
after_k AS (
    SELECT a.patient_id, a.ord, arg_min(s.total, s.assessed_on) AS value
    FROM anchored a JOIN scores s ON s.patient_id = a.patient_id
     AND s.assessed_on > a.day AND s.assessed_on <= coalesce(a.next_day, a.day + $window::INTEGER)
    GROUP BY a.patient_id, a.ord
),
carried AS (
    SELECT a.patient_id, a.ord, arg_max(s.total, s.assessed_on) AS value
    FROM anchored a JOIN scores s ON s.patient_id = a.patient_id
     AND s.assessed_on >= a.first_day - $lookback::INTEGER
     AND s.assessed_on <= coalesce(a.day, a.last_day + $window::INTEGER)
    GROUP BY a.patient_id, a.ord
),
valued AS (
    SELECT a.label, a.ord, b.base, coalesce(k.value, c.value) AS value
    FROM anchored a
    LEFT JOIN baseline b USING (patient_id)
    LEFT JOIN after_k k ON k.patient_id = a.patient_id AND k.ord = a.ord
    LEFT JOIN carried c ON c.patient_id = a.patient_id AND c.ord = a.ord
)
SELECT label, ord, count(*) AS n,
       count(*) FILTER (WHERE base > 0 AND value IS NOT NULL) AS n_evaluable,
       count(*) FILTER (WHERE base > 0 AND (base - value) / base >= $response) AS responders,
       count(*) FILTER (WHERE base > 0 AND value <= $remission) AS remitters
FROM valued
GROUP BY label, ord
ORDER BY ord
