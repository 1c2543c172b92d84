-- One patient: demographics and the course so far (sessions at the same time taken in session ID order).
WITH done AS (
    SELECT count(*) AS n_sessions, count(*) FILTER (WHERE phase IS DISTINCT FROM 'maintenance') AS n_induction,
           min(scheduled_at)::DATE AS first_day, max(scheduled_at)::DATE AS last_day,
           arg_min(route, (scheduled_at, session_id)) AS route, arg_max(phase, (scheduled_at, session_id)) AS last_phase
    FROM sessions WHERE patient_id = $patient_id AND status = 'completed'
),
booked AS (
    SELECT min(scheduled_at) AS next_session, arg_min(phase, (scheduled_at, session_id)) AS next_phase,
           arg_min(route, (scheduled_at, session_id)) AS next_route
    FROM sessions WHERE patient_id = $patient_id AND status = 'scheduled' AND scheduled_at >= $today::DATE
)
SELECT p.patient_id, p.given_name, p.family_name, p.birth_date, p.sex, p.primary_diagnosis, p.clinician, p.mrn,
       coalesce(p.deceased, FALSE) AS deceased, p.deceased_on,
       p.referral_date, p.consultation_date,
       date_diff('year', p.birth_date, coalesce(p.deceased_on, $today::DATE))   -- a deceased patient: age at death
         - (strftime(coalesce(p.deceased_on, $today::DATE), '%m%d') < strftime(p.birth_date, '%m%d'))::INTEGER AS age,
       coalesce(d.route, b.next_route) AS route, d.n_sessions, d.n_induction, d.first_day, d.last_day,
       b.next_session, coalesce(b.next_phase, d.last_phase) AS current_phase
FROM patients p, done d, booked b
WHERE p.patient_id = $patient_id
