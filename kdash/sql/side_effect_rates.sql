-- Side-effect frequencies overall and by route, dose band and session number (k ≤ $max_k): per patient
-- (had it at least once) and per session, with each group's denominators.
-- Patients are counted in two steps (per patient, then per group) rather than with DISTINCT, and the 'all' and
-- per-session-number denominators come from the cohort's course counts: session k exists for every patient
-- with at least k completed sessions (session_facts numbers completed sessions 1, 2, …).
WITH cohort AS ({{cohort}}),
reports AS (   -- one row per report, with its session's facts (effect_facts)
    SELECT patient_id, route, dose_band, CASE WHEN k <= $max_k THEN k::VARCHAR END AS k, effect, severity
    FROM effect_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
),
per_patient AS (
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k, 'all') AS grp, effect, count(*) AS sessions,
           count(*) FILTER (WHERE severity = 'mild') AS mild, count(*) FILTER (WHERE severity = 'moderate') AS moderate,
           count(*) FILTER (WHERE severity = 'severe') AS severe
    FROM reports
    GROUP BY GROUPING SETS ((patient_id, effect), (patient_id, route, effect), (patient_id, dose_band, effect),
                            (patient_id, k, effect))
),
counts AS (
    SELECT grouping_by, grp, effect, count(*) AS patients, sum(sessions)::BIGINT AS sessions,
           sum(mild)::BIGINT AS mild, sum(moderate)::BIGINT AS moderate, sum(severe)::BIGINT AS severe
    FROM per_patient GROUP BY ALL
),
route_dose AS (   -- completed sessions per patient and route, and per patient and dose band
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' ELSE 'dose_band' END AS grouping_by,
           coalesce(route, dose_band) AS grp, count(*) AS sessions
    FROM session_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
    GROUP BY GROUPING SETS ((patient_id, route), (patient_id, dose_band))
),
denominators AS (
    SELECT 'all' AS grouping_by, 'all' AS grp, count(*) AS n_patients, sum(n_sessions)::BIGINT AS n_sessions
    FROM cohort
    UNION ALL
    SELECT 'k', k::VARCHAR, count(*), count(*)
    FROM cohort, range(1, $max_k + 1) r(k) WHERE n_sessions >= k GROUP BY k
    UNION ALL
    SELECT grouping_by, grp, count(*), sum(sessions)::BIGINT FROM route_dose GROUP BY ALL
)
SELECT c.*, d.n_patients, d.n_sessions
FROM counts c JOIN denominators d USING (grouping_by, grp)
WHERE NOT (c.grouping_by = 'k' AND c.grp = 'all')
ORDER BY c.grouping_by, c.grp, c.patients DESC, c.effect
