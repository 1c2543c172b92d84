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
timepoint AS (   -- the main-scale score after session k (clinical-reference §1): the first score after session k's
                 -- day, on or before session k+1's day, or within $window days when session k is the last one
    SELECT s.patient_id, c.route, d.k, s.assessed_on AS day, s.total, b.base,
           (b.base - s.total) / b.base >= $response AS responded
    FROM scored s JOIN baselines b USING (patient_id, scale) JOIN course c USING (patient_id)
    ASOF JOIN done d ON s.patient_id = d.patient_id AND s.assessed_on > d.day
    WHERE s.scale = $main_scale AND b.base > 0
      AND d.k IN ($iv_after, $iv_review, $esk_after)
    QUALIFY row_number() OVER (PARTITION BY s.patient_id, d.k ORDER BY s.assessed_on, s.total) = 1
        AND (d.k < c.n OR s.assessed_on - d.day <= $window::INTEGER)
),
judged AS (   -- non-response is judged on the score after the 4th infusion (and the 6th: review the course) or
              -- after the last session of esketamine induction, never on a later score; no score there, no flag
    SELECT t.patient_id,
           CASE t.route WHEN 'iv_ketamine' THEN 'iv_nonresponse' ELSE 'esketamine_nonresponse' END AS rule,
           t.day, t.base, t.total,
           CASE WHEN t.route = 'esketamine' THEN 'session ' || t.k || ', the end of induction'
                WHEN t.k = $iv_after THEN 'infusion ' || t.k
                ELSE 'infusion ' || t.k || ' — review the course' END AS timepoint
    FROM timepoint t
    LEFT JOIN timepoint f ON f.patient_id = t.patient_id AND f.k = $iv_after
    WHERE NOT t.responded
      AND ((t.route = 'esketamine' AND t.k = $esk_after)
           OR (t.route = 'iv_ketamine' AND t.k = $iv_after)
           OR (t.route = 'iv_ketamine' AND t.k = $iv_review AND $iv_review > $iv_after
               AND NOT coalesce(f.responded, FALSE)))
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
    SELECT patient_id, rule, 'review', day,
           $main_scale || ' ' || base || ' → ' || total || ' (' || printf('%+.0f%%', (total - base) / base * 100)
           || ') after ' || timepoint
    FROM judged
    UNION ALL
    SELECT patient_id, 'dose_creep', 'review', day, first_mgkg || ' → ' || last_mgkg || ' mg/kg'
    FROM maintenance WHERE n >= 2 AND last_mgkg - first_mgkg >= $creep - 1e-9
    UNION ALL
    SELECT patient_id, 'long_term_use', 'review', last_day, (last_day - first_day) || ' days since the first treatment'
    FROM course WHERE last_day - first_day >= $long_term
)
SELECT * FROM flags WHERE day BETWEEN $since AND $today
