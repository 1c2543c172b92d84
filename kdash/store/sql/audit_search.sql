-- The audit trail, newest first, filtered by user, action, patient and period.
SELECT logged_at, username, role, action, patient_id, detail
FROM audit_log
WHERE ($username IS NULL OR username = $username)
  AND ($action IS NULL OR action = $action)
  AND ($patient_id IS NULL OR patient_id = $patient_id)
  AND ($start IS NULL OR logged_at >= $start::DATE)
  AND ($end IS NULL OR logged_at < $end::DATE + 1)
ORDER BY logged_at DESC, audit_id DESC
LIMIT (CASE WHEN $limit IS NULL THEN NULL ELSE $limit END)
