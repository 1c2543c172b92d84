-- One patient's side effects, with the session they followed.
SELECT e.session_id, s.scheduled_at::DATE AS day, e.effect, e.severity, e.note
FROM side_effects e JOIN sessions s USING (session_id)
WHERE s.patient_id = $patient_id
ORDER BY s.scheduled_at, e.session_id, e.effect, e.severity, e.note
