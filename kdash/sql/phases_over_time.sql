-- Patients treated per period by phase, and where induction stopped for those who did not complete it.
WITH b AS ({{bookings}})
SELECT period, phase, count(DISTINCT patient_id) AS patients
FROM b WHERE status = 'completed' GROUP BY ALL ORDER BY period, phase
