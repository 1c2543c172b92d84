-- The worklist: one row per open flag (patient and rule) with the patient's identifiers, most severe and oldest
-- first. The open part is sql/open_flag_rows.sql. The evidence shown is the latest row (of one day's, the one with
-- the later evidence time, then the greater text), whatever order the rows were written in.
WITH open_rows AS ({open}),
flag AS (
    SELECT patient_id, rule, any_value(severity) AS severity, min(day) AS first_day, max(day) AS last_day,
           arg_max(value, (day, evidence_at, value)) AS evidence, count(*) AS n_evidence, min(evidence_at) AS raised_at
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
