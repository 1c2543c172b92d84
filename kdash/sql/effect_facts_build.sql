-- Each side-effect report with the facts of its session (patient, route, dose band, session number), so the
-- side-effect frequencies group reports without joining every session of the clinic per view.
SELECT f.session_id, f.patient_id, f.route, f.dose_band, f.k, e.effect, e.severity
FROM side_effects e
JOIN session_facts f USING (session_id)
WHERE $ids IS NULL OR list_contains($ids, f.patient_id)
