-- Blood pressure readings outside sessions (screening, consultation), with the reading time; the checklist
-- keeps those taken before the first completed session started (eligibility.blood_pressure) and reads the last:
-- of two taken at the same moment, the higher.
SELECT patient_id, measured_at, systolic, diastolic
FROM vitals
WHERE session_id IS NULL AND ($ids IS NULL OR list_contains($ids, patient_id))
ORDER BY patient_id, measured_at, systolic, diastolic
