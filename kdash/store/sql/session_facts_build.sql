-- Every completed session with its number in the patient's record (k), dose band, and the extremes measured
-- in it: highest blood pressure before and after dosing, highest CADSS, lowest MOAA/S. Thresholds stay out,
-- so a clinic's edited thresholds apply when these are read (side effects and excursions, clinical-reference §5–6).
-- first_in_route / first_in_dose_band mark the patient's first session of its route / dose band, so the pages
-- count patients per group by summing flags instead of grouping by patient per view.
WITH done AS (
    SELECT session_id, patient_id, route, scheduled_at, dose_mg, round(dose_mg / weight_kg, 2) AS mg_per_kg,
           row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at, session_id) AS k
    FROM sessions
    WHERE status = 'completed' AND ($ids IS NULL OR list_contains($ids, patient_id))
),
bp AS (
    SELECT session_id,
           max(systolic) FILTER (WHERE minute < 0) AS pre_systolic, max(diastolic) FILTER (WHERE minute < 0) AS pre_diastolic,
           max(systolic) FILTER (WHERE minute >= 0) AS post_systolic, max(diastolic) FILTER (WHERE minute >= 0) AS post_diastolic,
           bool_or(minute < 0) AS has_pre, bool_or(minute >= 0) AS has_post
    FROM vitals
    WHERE session_id IN (SELECT session_id FROM done) AND ($ids IS NULL OR list_contains($ids, patient_id))
    GROUP BY session_id
),
scored AS (
    SELECT session_id, max(total) FILTER (WHERE scale = 'CADSS') AS cadss_max,
           min(total) FILTER (WHERE scale = 'MOAAS') AS moaas_min
    FROM assessments
    WHERE scale IN ('CADSS', 'MOAAS') AND session_id IN (SELECT session_id FROM done)
      AND ($ids IS NULL OR list_contains($ids, patient_id))
    GROUP BY session_id
),
facts AS (
SELECT d.session_id, d.patient_id, d.route, d.scheduled_at, d.k,
       CASE WHEN d.dose_mg IS NULL THEN 'unknown'
            WHEN d.route = 'esketamine' THEN d.dose_mg::INTEGER || ' mg'
            WHEN d.mg_per_kg IS NULL THEN 'unknown'
            WHEN d.mg_per_kg < 0.5 THEN '< 0.5 mg/kg'
            WHEN d.mg_per_kg < 0.75 THEN '0.5–0.74 mg/kg'
            WHEN d.mg_per_kg < 1.0 THEN '0.75–0.99 mg/kg'
            ELSE '≥ 1.0 mg/kg' END AS dose_band,
       coalesce(bp.has_pre, FALSE) AS has_pre, coalesce(bp.has_post, FALSE) AS has_post,
       bp.pre_systolic, bp.pre_diastolic, bp.post_systolic, bp.post_diastolic, s.cadss_max, s.moaas_min
FROM done d LEFT JOIN bp USING (session_id) LEFT JOIN scored s USING (session_id)
)
SELECT *, row_number() OVER (PARTITION BY patient_id, route ORDER BY k) = 1 AS first_in_route,
       row_number() OVER (PARTITION BY patient_id, dose_band ORDER BY k) = 1 AS first_in_dose_band
FROM facts
