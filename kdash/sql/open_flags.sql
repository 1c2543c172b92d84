-- Safety flags of clinical-reference §4 whose evidence lies between $since and $today, for the whole
-- clinic ($patient_id NULL) or one patient: one row per piece of evidence (patient, rule, severity, day, value).
-- Mirrors kdash/rules.py rule for rule; tests/unit/test_rules.py keeps the two equal.
WITH active AS MATERIALIZED (   -- only patients with evidence in the window can have an open flag
    SELECT patient_id FROM sessions
    WHERE scheduled_at >= $since::DATE AND scheduled_at < $today::DATE + 1
      AND ($patient_id IS NULL OR patient_id = $patient_id)
      AND ($flag_patients IS NULL OR list_contains($flag_patients, patient_id))
    UNION
    SELECT patient_id FROM assessments
    WHERE assessed_on BETWEEN $since AND $today AND ($patient_id IS NULL OR patient_id = $patient_id)
      AND ($flag_patients IS NULL OR list_contains($flag_patients, patient_id))
),
done AS MATERIALIZED (
    SELECT patient_id, session_id, scheduled_at::DATE AS day, route, phase,
           round(dose_mg / weight_kg, 2) AS mg_per_kg, date_diff('minute', started_at, ended_at) AS chair_minutes,
           row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at) AS k
    FROM sessions
    WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM active)
),
course AS MATERIALIZED (
    SELECT patient_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n, arg_min(route, k) AS route
    FROM done GROUP BY patient_id
),
scored AS MATERIALIZED (   -- depression scores of the treated
    SELECT a.patient_id, a.scale, a.assessed_on, a.total
    FROM assessments a
    WHERE a.scale IN ('MADRS', 'PHQ9', 'QIDS_SR16', 'HAMD17', 'BDI2')
      AND a.patient_id IN (SELECT patient_id FROM course)
),
baselines AS (
    SELECT s.patient_id, s.scale, arg_max(s.total, s.assessed_on) AS base
    FROM scored s JOIN course c USING (patient_id)
    WHERE s.assessed_on <= c.first_day AND s.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY s.patient_id, s.scale
),
later AS (
    SELECT s.*, b.base, lag(s.total) OVER (PARTITION BY s.patient_id, s.scale ORDER BY s.assessed_on) AS previous
    FROM scored s JOIN baselines b USING (patient_id, scale) JOIN course c USING (patient_id)
    WHERE s.assessed_on > c.first_day
),
judged_from AS (   -- response is judged on scores taken after the 4th infusion / the end of esketamine induction
    SELECT d.patient_id, c.route, d.day
    FROM done d JOIN course c USING (patient_id)
    WHERE d.k = CASE c.route WHEN 'iv_ketamine' THEN $iv_after WHEN 'esketamine' THEN $esk_after END
),
judged AS (   -- the latest main-scale score once enough sessions were given to judge response
    SELECT s.patient_id, j.route, arg_max(s.total, s.assessed_on) AS total, max(s.assessed_on) AS day, b.base
    FROM scored s JOIN judged_from j USING (patient_id) JOIN baselines b USING (patient_id, scale)
    WHERE s.scale = $main_scale AND b.base > 0 AND s.assessed_on > j.day
    GROUP BY s.patient_id, j.route, b.base
),
watched AS (   -- esketamine sessions in the window, whose monitoring is checked
    SELECT * FROM done WHERE route = 'esketamine' AND day BETWEEN $since AND $today
),
vital_minutes AS (
    SELECT session_id, bool_or(minute < 0) AS has_pre, bool_or(minute BETWEEN 30 AND 60) AS has_40
    FROM vitals
    WHERE measured_at >= $since::DATE - 1 AND session_id IN (SELECT session_id FROM watched)
    GROUP BY session_id
),
maintenance AS (
    SELECT patient_id, arg_min(mg_per_kg, k) AS first_mgkg, arg_max(mg_per_kg, k) AS last_mgkg,
           max(day) AS day, count(*) AS n
    FROM done
    WHERE phase = 'maintenance' AND mg_per_kg IS NOT NULL AND route <> 'esketamine'
    GROUP BY patient_id
),
flags AS (
    SELECT patient_id, 'suicidal_thoughts' AS rule, 'urgent' AS severity, assessed_on AS day,
           CASE scale WHEN 'PHQ9' THEN 'PHQ-9 item 9 = ' || items[9]
                      WHEN 'MADRS' THEN 'MADRS item 10 = ' || items[10]
                      WHEN 'HAMD17' THEN 'HAM-D item 3 = ' || items[3]
                      WHEN 'PHQ9_I9' THEN 'PHQ-9 item 9 = ' || total
                      ELSE 'C-SSRS level ' || total END AS value
    FROM assessments
    WHERE patient_id IN (SELECT patient_id FROM active) AND assessed_on BETWEEN $since AND $today
      AND ((scale = 'PHQ9' AND items[9] >= $phq9) OR (scale = 'MADRS' AND items[10] >= $madrs)
           OR (scale = 'HAMD17' AND items[3] >= $hamd) OR (scale = 'CSSRS' AND total >= $cssrs)
           OR (scale = 'PHQ9_I9' AND total >= $phq9))
    UNION ALL
    SELECT s.patient_id, CASE WHEN v.minute < 0 THEN 'predose_bp' ELSE 'emergent_hypertension' END,
           CASE WHEN v.minute < 0 THEN 'caution' ELSE 'high' END, s.scheduled_at::DATE,
           v.systolic || '/' || v.diastolic || ' mmHg at minute ' || v.minute
    FROM vitals v JOIN sessions s USING (session_id)
    WHERE s.patient_id IN (SELECT patient_id FROM active)
      AND s.scheduled_at >= $since::DATE AND s.scheduled_at < $today::DATE + 1
      AND v.measured_at >= $since::DATE - 1 AND v.session_id IS NOT NULL
      AND ((v.minute < 0 AND (v.systolic > $pre_sys OR v.diastolic > $pre_dia))
           OR (v.minute >= 0 AND (v.systolic > $post_sys OR v.diastolic > $post_dia)))
    UNION ALL
    SELECT patient_id, CASE scale WHEN 'CADSS' THEN 'dissociation' ELSE 'sedation' END, 'caution', assessed_on,
           CASE scale WHEN 'CADSS' THEN 'CADSS ' ELSE 'MOAA/S ' END || total
    FROM assessments
    WHERE patient_id IN (SELECT patient_id FROM active) AND assessed_on BETWEEN $since AND $today
      AND ((scale = 'CADSS' AND total > $cadss) OR (scale = 'MOAAS' AND total <= $moaas))
    UNION ALL
    SELECT d.patient_id, 'monitoring', 'caution', d.day,
           concat_ws('; ', CASE WHEN NOT coalesce(m.has_pre, FALSE) THEN 'no BP before dosing' END,
                     CASE WHEN NOT coalesce(m.has_40, FALSE) THEN 'no BP at ~40 min' END,
                     CASE WHEN d.chair_minutes IS NULL OR d.chair_minutes < $observe
                          THEN 'observed ' || coalesce(d.chair_minutes::VARCHAR, '?') || ' min' END)
    FROM watched d LEFT JOIN vital_minutes m USING (session_id)
    WHERE (NOT coalesce(m.has_pre, FALSE) OR NOT coalesce(m.has_40, FALSE)
           OR d.chair_minutes IS NULL OR d.chair_minutes < $observe)
    UNION ALL
    SELECT patient_id, 'worsening', 'high', assessed_on,
           scale || ' ' || previous || ' then ' || total || ', baseline ' || base
    FROM later WHERE total > base AND previous > base
    UNION ALL
    SELECT patient_id, CASE route WHEN 'iv_ketamine' THEN 'iv_nonresponse' ELSE 'esketamine_nonresponse' END,
           'review', day, $main_scale || ' ' || base || ' → ' || total
    FROM judged WHERE (base - total) / base < $response
    UNION ALL
    SELECT patient_id, 'dose_creep', 'review', day, first_mgkg || ' → ' || last_mgkg || ' mg/kg'
    FROM maintenance WHERE n >= 2 AND last_mgkg - first_mgkg >= $creep - 1e-9
    UNION ALL
    SELECT patient_id, 'long_term_use', 'review', last_day, (last_day - first_day) || ' days since the first treatment'
    FROM course WHERE last_day - first_day >= $long_term
)
SELECT * FROM flags WHERE day BETWEEN $since AND $today
