-- One patient's blood pressure readings: in sessions (by minute from dose) and outside them (screening).
SELECT v.session_id, v.minute, v.measured_at, v.systolic, v.diastolic, v.heart_rate, v.spo2
FROM vitals v
WHERE v.patient_id = $patient_id
ORDER BY v.measured_at, v.minute, v.systolic, v.diastolic, v.heart_rate, v.spo2, v.session_id
