-- The most recently treated patients, for the case-conference picker (labels are de-identified in Python).
SELECT s.patient_id, arg_min(s.route, (s.scheduled_at, s.session_id)) AS route, count(*) AS n_sessions,
       max(s.scheduled_at) AS last_at, any_value(p.sex) AS sex,
       date_diff('year', any_value(p.birth_date), min(s.scheduled_at)::DATE) AS age
FROM sessions s JOIN patients p USING (patient_id)
WHERE s.status = 'completed'
GROUP BY s.patient_id
ORDER BY last_at DESC, s.patient_id
LIMIT $limit
