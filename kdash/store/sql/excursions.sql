-- Session safety events in the cohort: BP excursions, dissociation and sedation, per session and per patient
-- (session extremes from session_facts, compared with the clinic's thresholds here). Counted per patient
-- first, so the patient counts need no DISTINCT.
WITH cohort AS ({{cohort}}),
per_patient AS (
    SELECT patient_id,
           count(*) FILTER (WHERE has_pre) AS pre_n,
           count(*) FILTER (WHERE pre_systolic > $pre_sys OR pre_diastolic > $pre_dia) AS pre_high,
           count(*) FILTER (WHERE has_post) AS post_n,
           count(*) FILTER (WHERE post_systolic > $post_sys OR post_diastolic > $post_dia) AS post_high,
           count(cadss_max) AS cadss_n, count(*) FILTER (WHERE cadss_max > $cadss) AS dissociated,
           count(moaas_min) AS moaas_n, count(*) FILTER (WHERE moaas_min <= $moaas) AS sedated
    FROM session_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
    GROUP BY patient_id
)
SELECT 'Pre-dose BP > ' || $pre_sys || '/' || $pre_dia AS event, sum(pre_high) AS sessions, sum(pre_n) AS n_sessions,
       count(*) FILTER (WHERE pre_high > 0) AS patients, count(*) FILTER (WHERE pre_n > 0) AS n_patients FROM per_patient
UNION ALL
SELECT 'Post-dose BP > ' || $post_sys || '/' || $post_dia, sum(post_high), sum(post_n),
       count(*) FILTER (WHERE post_high > 0), count(*) FILTER (WHERE post_n > 0) FROM per_patient
UNION ALL
SELECT 'CADSS > ' || $cadss, sum(dissociated), sum(cadss_n),
       count(*) FILTER (WHERE dissociated > 0), count(*) FILTER (WHERE cadss_n > 0) FROM per_patient
UNION ALL
SELECT 'MOAA/S ≤ ' || $moaas, sum(sedated), sum(moaas_n),
       count(*) FILTER (WHERE sedated > 0), count(*) FILTER (WHERE moaas_n > 0) FROM per_patient
