-- Session safety events in the cohort: BP excursions, dissociation and sedation, per session and per patient.
WITH cohort AS ({{cohort}}),
done AS (SELECT session_id, patient_id FROM sessions WHERE status = 'completed'
         AND patient_id IN (SELECT patient_id FROM cohort)),
bp AS (
    SELECT v.session_id, any_value(d.patient_id) AS patient_id,
           bool_or(v.minute < 0) AS has_pre, bool_or(v.minute >= 0) AS has_post,
           bool_or(v.minute < 0 AND (v.systolic > $pre_sys OR v.diastolic > $pre_dia)) AS pre_high,
           bool_or(v.minute >= 0 AND (v.systolic > $post_sys OR v.diastolic > $post_dia)) AS post_high
    FROM vitals v JOIN done d USING (session_id) GROUP BY v.session_id
),
scored AS (
    SELECT a.session_id, any_value(d.patient_id) AS patient_id,
           bool_or(a.scale = 'CADSS') AS has_cadss, bool_or(a.scale = 'CADSS' AND a.total > $cadss) AS dissociated,
           bool_or(a.scale = 'MOAAS') AS has_moaas, bool_or(a.scale = 'MOAAS' AND a.total <= $moaas) AS sedated
    FROM assessments a JOIN done d USING (session_id) GROUP BY a.session_id
)
SELECT 'Pre-dose BP > ' || $pre_sys || '/' || $pre_dia AS event, count(*) FILTER (WHERE pre_high) AS sessions,
       count(*) FILTER (WHERE has_pre) AS n_sessions, count(DISTINCT patient_id) FILTER (WHERE pre_high) AS patients,
       count(DISTINCT patient_id) FILTER (WHERE has_pre) AS n_patients FROM bp
UNION ALL
SELECT 'Post-dose BP > ' || $post_sys || '/' || $post_dia, count(*) FILTER (WHERE post_high), count(*) FILTER (WHERE has_post),
       count(DISTINCT patient_id) FILTER (WHERE post_high), count(DISTINCT patient_id) FILTER (WHERE has_post) FROM bp
UNION ALL
SELECT 'CADSS > ' || $cadss, count(*) FILTER (WHERE dissociated), count(*) FILTER (WHERE has_cadss),
       count(DISTINCT patient_id) FILTER (WHERE dissociated), count(DISTINCT patient_id) FILTER (WHERE has_cadss) FROM scored
UNION ALL
SELECT 'MOAA/S ≤ ' || $moaas, count(*) FILTER (WHERE sedated), count(*) FILTER (WHERE has_moaas),
       count(DISTINCT patient_id) FILTER (WHERE sedated), count(DISTINCT patient_id) FILTER (WHERE has_moaas) FROM scored
