-- Logged flags (evidence, and each rule's latest clear) with days between $since and $today (for the patients in
-- $ids, or everyone).
SELECT patient_id, rule, severity, day, value, evidence_at
FROM flag_log
WHERE day BETWEEN $since AND $today AND ($ids IS NULL OR list_contains($ids, patient_id))
