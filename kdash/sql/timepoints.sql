-- Response and remission at fixed timepoints (clinical-reference §1), one row per timepoint.
-- Score after session k: the first score after session k's day, on or before session k+1's day (or within
-- $window days when there is none). Missing, or session k never reached: the last score so far is carried
-- forward (LOCF), so every patient of the analysis set counts at every timepoint. Read from score_points.
WITH cohort AS ({{cohort}}),
pts AS (
    SELECT * FROM score_points WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM cohort)
),
baseline AS (
    SELECT p.patient_id, arg_max(p.total, p.assessed_on) AS base
    FROM pts p JOIN cohort c USING (patient_id)
    WHERE p.after_session = 0 AND p.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY p.patient_id
),
timepoints AS (
    SELECT * FROM (VALUES ('after session 2', 1, 2), ('after session 4', 2, 4), ('after session 6', 3, 6),
                          ('end of induction', 4, 0), ('last observation', 5, -1)) t(label, ord, k)
),
anchored AS (   -- k: the session the timepoint follows, when this patient reached it
    SELECT c.patient_id, c.first_day, c.last_day, t.label, t.ord,
           CASE WHEN t.k = 0 AND c.planned <= c.n_sessions THEN c.planned
                WHEN t.k > 0 AND t.k <= c.n_sessions THEN t.k END AS k
    FROM cohort c CROSS JOIN timepoints t
),
after_k AS (
    SELECT a.patient_id, a.ord, any_value(p.total) AS value
    FROM anchored a JOIN pts p ON p.patient_id = a.patient_id AND p.after_session = a.k AND p.first_after
     AND (p.has_next OR p.days_after <= $window::INTEGER)
    GROUP BY a.patient_id, a.ord
),
carried AS (
    SELECT a.patient_id, a.ord, arg_max(p.total, p.assessed_on) AS value
    FROM anchored a JOIN pts p ON p.patient_id = a.patient_id
     AND p.assessed_on >= a.first_day - $lookback::INTEGER
     AND CASE WHEN a.k IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER ELSE p.after_session < a.k END
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
