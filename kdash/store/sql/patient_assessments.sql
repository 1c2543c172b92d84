-- One patient's assessments; `after_session` = completed sessions before that day (0 = before treatment),
-- so a score taken before the dose on session k+1's day counts as the score after session k (§1). Ordered by every
-- column, so that kdash/clinical/rules.py, which keeps this order, breaks ties as sql/open_flags.sql does.
WITH done AS (
    SELECT scheduled_at::DATE AS day FROM sessions WHERE patient_id = $patient_id AND status = 'completed'
)
SELECT a.assessed_on, a.scale, a.total, a.items, a.session_id, a.minute, a.source, a.reported_at,
       (SELECT count(*) FROM done WHERE done.day < a.assessed_on) AS after_session
FROM assessments a
WHERE a.patient_id = $patient_id
ORDER BY a.assessed_on, a.scale, a.total, a.items, a.session_id, a.minute, a.source, a.reported_at
