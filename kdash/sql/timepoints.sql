-- Response and remission at fixed timepoints (clinical-reference §1), one row per timepoint.
-- Score after session k: the first score after session k's day, on or before session k+1's day (or within
-- $window days when there is none). Missing, or session k never reached: the last score so far is carried
-- forward (LOCF), so every patient of the analysis set counts at every timepoint. Read from score_points,
-- in one pass per patient: each timepoint's value is a filtered aggregate over the patient's scores.
WITH cohort AS ({{cohort}}),
pts AS (
    SELECT * FROM score_points WHERE scale = $scale AND patient_id IN (SELECT patient_id FROM cohort)
),
anchored AS (   -- k_t: the session timepoint t follows, when this patient reached it (t5, last observation: none)
    SELECT patient_id, first_day, last_day,
           CASE WHEN n_sessions >= 2 THEN 2 END AS k1, CASE WHEN n_sessions >= 4 THEN 4 END AS k2,
           CASE WHEN n_sessions >= 6 THEN 6 END AS k3, CASE WHEN n_sessions >= planned THEN planned END AS k4,
           NULL::BIGINT AS k5
    FROM cohort
),
per_patient AS (
    SELECT a.patient_id,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.after_session = 0 AND p.assessed_on >= a.first_day - $lookback::INTEGER) AS base,
           any_value(p.total) FILTER (WHERE p.after_session = a.k1 AND p.first_after
                                      AND (p.has_next OR p.days_after <= $window::INTEGER)) AS after1,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.assessed_on >= a.first_day - $lookback::INTEGER
                 AND CASE WHEN a.k1 IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER
                          ELSE p.after_session < a.k1 END) AS carried1,
           any_value(p.total) FILTER (WHERE p.after_session = a.k2 AND p.first_after
                                      AND (p.has_next OR p.days_after <= $window::INTEGER)) AS after2,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.assessed_on >= a.first_day - $lookback::INTEGER
                 AND CASE WHEN a.k2 IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER
                          ELSE p.after_session < a.k2 END) AS carried2,
           any_value(p.total) FILTER (WHERE p.after_session = a.k3 AND p.first_after
                                      AND (p.has_next OR p.days_after <= $window::INTEGER)) AS after3,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.assessed_on >= a.first_day - $lookback::INTEGER
                 AND CASE WHEN a.k3 IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER
                          ELSE p.after_session < a.k3 END) AS carried3,
           any_value(p.total) FILTER (WHERE p.after_session = a.k4 AND p.first_after
                                      AND (p.has_next OR p.days_after <= $window::INTEGER)) AS after4,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.assessed_on >= a.first_day - $lookback::INTEGER
                 AND CASE WHEN a.k4 IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER
                          ELSE p.after_session < a.k4 END) AS carried4,
           any_value(p.total) FILTER (WHERE p.after_session = a.k5 AND p.first_after
                                      AND (p.has_next OR p.days_after <= $window::INTEGER)) AS after5,
           arg_max(p.total, p.assessed_on) FILTER (
               WHERE p.assessed_on >= a.first_day - $lookback::INTEGER
                 AND CASE WHEN a.k5 IS NULL THEN p.assessed_on <= a.last_day + $window::INTEGER
                          ELSE p.after_session < a.k5 END) AS carried5
    FROM anchored a LEFT JOIN pts p USING (patient_id)
    GROUP BY a.patient_id
),
valued AS (
    SELECT 'after session 2' AS label, 1 AS ord, base, coalesce(after1, carried1) AS value FROM per_patient
    UNION ALL
    SELECT 'after session 4', 2, base, coalesce(after2, carried2) FROM per_patient
    UNION ALL
    SELECT 'after session 6', 3, base, coalesce(after3, carried3) FROM per_patient
    UNION ALL
    SELECT 'end of induction', 4, base, coalesce(after4, carried4) FROM per_patient
    UNION ALL
    SELECT 'last observation', 5, base, coalesce(after5, carried5) FROM per_patient
)
SELECT label, ord, count(*) AS n,
       count(*) FILTER (WHERE base > 0 AND value IS NOT NULL) AS n_evaluable,
       count(*) FILTER (WHERE base > 0 AND (base - value) / base >= $response) AS responders,
       count(*) FILTER (WHERE base > 0 AND value <= $remission) AS remitters
FROM valued
GROUP BY label, ord
ORDER BY ord
