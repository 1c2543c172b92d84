-- Patients referred since $since, not yet treated and without a clinician's eligibility decision, oldest first.
SELECT p.patient_id, p.given_name || ' ' || p.family_name AS name, p.referral_date, p.consultation_date,
       p.clinician
FROM patients p
WHERE p.referral_date >= $since
  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = p.patient_id AND s.status = 'completed')
  AND NOT EXISTS (SELECT 1 FROM eligibility_decisions d WHERE d.patient_id = p.patient_id)
ORDER BY p.referral_date, p.patient_id
LIMIT $limit
