-- Each side-effect report with the facts of its session (patient, route, dose band, session number), so the
-- side-effect frequencies group reports without joining every session of the clinic per view. The first_* flags
-- mark the patient's first report of the effect overall, in the route, in the dose band and in the session, so
-- patients per group are a sum of flags (clinical-reference §6: per patient = had it at least once). Reports of one
-- effect in one session tie on k: the flag goes to the first by severity, then note, whatever order they came in.
SELECT f.session_id, f.patient_id, f.route, f.dose_band, f.k, e.effect, e.severity,
       row_number() OVER (PARTITION BY f.patient_id, e.effect ORDER BY f.k, e.severity, e.note) = 1 AS first_of_effect,
       row_number() OVER (PARTITION BY f.patient_id, f.route, e.effect
                          ORDER BY f.k, e.severity, e.note) = 1 AS first_in_route,
       row_number() OVER (PARTITION BY f.patient_id, f.dose_band, e.effect
                          ORDER BY f.k, e.severity, e.note) = 1 AS first_in_dose_band,
       row_number() OVER (PARTITION BY f.patient_id, f.k, e.effect ORDER BY e.severity, e.note) = 1 AS first_in_session
FROM side_effects e
JOIN session_facts f USING (session_id)
WHERE $ids IS NULL OR list_contains($ids, f.patient_id)
