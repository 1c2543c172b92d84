-- Side-effect frequencies overall and by route, dose band and session number (k ≤ $max_k): per patient
-- (had it at least once) and per session, with each group's denominators.
WITH cohort AS ({{cohort}}),
reports AS (   -- one row per report, with its session's facts (effect_facts)
    SELECT patient_id, route, dose_band, CASE WHEN k <= $max_k THEN k::VARCHAR END AS k, effect, severity
    FROM effect_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
),
counts AS (
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k, 'all') AS grp, effect,
           count(DISTINCT patient_id) AS patients, count(*) AS sessions,
           count(*) FILTER (WHERE severity = 'mild') AS mild, count(*) FILTER (WHERE severity = 'moderate') AS moderate,
           count(*) FILTER (WHERE severity = 'severe') AS severe
    FROM reports
    GROUP BY GROUPING SETS ((effect), (route, effect), (dose_band, effect), (k, effect))
),
denominators AS (   -- one row per completed session (session_facts), so sessions need no DISTINCT
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k, 'all') AS grp,
           count(DISTINCT patient_id) AS n_patients, count(*) AS n_sessions
    FROM (SELECT patient_id, route, dose_band, CASE WHEN k <= $max_k THEN k::VARCHAR END AS k
          FROM session_facts WHERE patient_id IN (SELECT patient_id FROM cohort))
    GROUP BY GROUPING SETS ((), (route), (dose_band), (k))
)
SELECT c.*, d.n_patients, d.n_sessions
FROM counts c JOIN denominators d USING (grouping_by, grp)
WHERE NOT (c.grouping_by = 'k' AND c.grp = 'all')
ORDER BY c.grouping_by, c.grp, c.patients DESC
