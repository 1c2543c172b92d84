-- The cohort's completed sessions with their number, route, dose band and any side effects (one row per
-- session × effect, effect NULL when none), for the side-effect frequencies.
WITH cohort AS ({{cohort}}),
done AS (
    SELECT session_id, patient_id, route, dose_mg, round(dose_mg / weight_kg, 2) AS mg_per_kg,
           row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at) AS k
    FROM sessions
    WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM cohort)
)
SELECT d.session_id, d.patient_id, d.route, d.k,
       CASE WHEN d.route = 'esketamine' THEN d.dose_mg::INTEGER || ' mg'
            WHEN d.mg_per_kg IS NULL THEN 'unknown'
            WHEN d.mg_per_kg < 0.5 THEN '< 0.5 mg/kg'
            WHEN d.mg_per_kg < 0.75 THEN '0.5–0.74 mg/kg'
            WHEN d.mg_per_kg < 1.0 THEN '0.75–0.99 mg/kg'
            ELSE '≥ 1.0 mg/kg' END AS dose_band,
       e.effect, e.severity
FROM done d LEFT JOIN side_effects e USING (session_id)
