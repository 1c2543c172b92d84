-- What the eligibility checklist needs for the patients in $ids (NULL: everyone), one query per kind.
-- patients: demographics, the first treatment day, when that first completed session started (its start,
-- else its scheduled time: the cut for the blood pressure "at screening") and the route booked or given first
-- (sessions at the same time: in session ID order).
SELECT p.patient_id, p.birth_date, p.sex, p.primary_diagnosis, p.referral_date, p.consultation_date,
       s.first_day, s.first_start, s.route
FROM patients p
LEFT JOIN (
    SELECT patient_id, min(scheduled_at) FILTER (WHERE status = 'completed')::DATE AS first_day,
           arg_min(coalesce(started_at, scheduled_at), (scheduled_at, session_id))
             FILTER (WHERE status = 'completed') AS first_start,
           arg_min(route, (scheduled_at, session_id)) FILTER (WHERE status IN ('completed', 'scheduled')) AS route
    FROM sessions
    WHERE $ids IS NULL OR list_contains($ids, patient_id)
    GROUP BY patient_id
) s USING (patient_id)
WHERE $ids IS NULL OR list_contains($ids, p.patient_id)
ORDER BY p.patient_id
