-- The worklist: one row per open flag (patient and rule) with the patient's identifiers, most severe and oldest
-- first. The open part is sql/open_flag_rows.sql. The evidence shown is the latest row (of one day's, the one with
-- the later evidence time, then the greater text), whatever order the rows were written in; newer_*: a later
-- observation that would have cleared the flag, kept on an urgent one as new evidence.
WITH open_rows AS ({open}),
flag AS (
    SELECT patient_id, rule,
           arg_min(severity, CASE severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2 ELSE 3 END)
             AS severity,   -- the most severe of its evidence
           min(day) AS first_day, max(day) AS last_day,
           arg_max(value, (day, evidence_at, value)) AS evidence, count(*) AS n_evidence, min(evidence_at) AS raised_at,
           any_value(newer_day) AS newer_day, any_value(newer_value) AS newer_value
    FROM open_rows GROUP BY patient_id, rule
)
SELECT f.*, p.given_name, p.family_name, p.birth_date, p.mrn, p.clinician,
       date_diff('year', p.birth_date, $today::DATE)
         - (strftime($today::DATE, '%m%d') < strftime(p.birth_date, '%m%d'))::INTEGER AS age,
       CASE f.severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2 ELSE 3 END AS urgency
FROM flag f JOIN patients p USING (patient_id)
WHERE ($clinician IS NULL OR p.clinician = $clinician)
ORDER BY urgency, raised_at, patient_id, rule
LIMIT $limit
