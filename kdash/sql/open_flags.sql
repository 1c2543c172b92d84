-- Safety flags (clinical-reference §4) whose evidence lies between $since and $today:
-- one row per piece of evidence (patient, rule, day, value).
SELECT patient_id, 'suicidal_thoughts' AS rule, 'urgent' AS severity, assessed_on AS day,
       CASE scale WHEN 'PHQ9' THEN 'PHQ-9 item 9 = ' || items[9]
                  WHEN 'MADRS' THEN 'MADRS item 10 = ' || items[10]
                  WHEN 'HAMD17' THEN 'HAM-D item 3 = ' || items[3]
                  ELSE 'C-SSRS level ' || total END AS value
FROM assessments
WHERE assessed_on BETWEEN $since AND $today
  AND ((scale = 'PHQ9' AND items[9] >= $phq9) OR (scale = 'MADRS' AND items[10] >= $madrs)
       OR (scale = 'HAMD17' AND items[3] >= $hamd) OR (scale = 'CSSRS' AND total >= $cssrs))
UNION ALL
SELECT v.patient_id, CASE WHEN v.minute < 0 THEN 'predose_bp' ELSE 'emergent_hypertension' END,
       CASE WHEN v.minute < 0 THEN 'caution' ELSE 'high' END, s.scheduled_at::DATE,
       v.systolic || '/' || v.diastolic || ' mmHg at minute ' || v.minute
FROM vitals v JOIN sessions s USING (session_id)
WHERE s.scheduled_at::DATE BETWEEN $since AND $today
  AND ((v.minute < 0 AND (v.systolic > $pre_sys OR v.diastolic > $pre_dia))
       OR (v.minute >= 0 AND (v.systolic > $post_sys OR v.diastolic > $post_dia)))
UNION ALL
SELECT patient_id, CASE scale WHEN 'CADSS' THEN 'dissociation' ELSE 'sedation' END, 'caution', assessed_on,
       CASE scale WHEN 'CADSS' THEN 'CADSS ' ELSE 'MOAA/S ' END || total
FROM assessments
WHERE assessed_on BETWEEN $since AND $today
  AND ((scale = 'CADSS' AND total > $cadss) OR (scale = 'MOAAS' AND total <= $moaas))
