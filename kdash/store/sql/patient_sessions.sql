-- One patient's bookings; completed sessions numbered 1, 2, … in date order (two at the same time: by ID).
SELECT session_id, scheduled_at, scheduled_at::DATE AS day, status, route, phase, dose_mg, weight_kg,
       round(dose_mg / weight_kg, 2) AS mg_per_kg, chair, clinician, started_at, ended_at,
       date_diff('minute', started_at, ended_at) AS chair_minutes, rems_form_sent_on,
       CASE WHEN status = 'completed'
            THEN row_number() OVER (PARTITION BY status = 'completed' ORDER BY scheduled_at, session_id) END AS session_number
FROM sessions
WHERE patient_id = $patient_id
ORDER BY scheduled_at, session_id
