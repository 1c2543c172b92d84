-- Depression scores, for baseline severity (eligibility.severity reads the last: of one day's, the higher).
SELECT patient_id, assessed_on, scale, total
FROM assessments
WHERE scale IN ('MADRS', 'PHQ9', 'QIDS_SR16', 'HAMD17') AND ($ids IS NULL OR list_contains($ids, patient_id))
ORDER BY patient_id, assessed_on, scale, total
