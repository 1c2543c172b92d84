-- Side-effect frequencies overall and by route, dose band and session number (k ≤ $max_k), in one pass:
-- per patient (had it at least once) and per session, with each group's denominators.
WITH s AS MATERIALIZED ({{side_effect_sessions}}),
keyed AS (
    SELECT *, CASE WHEN k <= $max_k THEN k::VARCHAR END AS k_grp FROM s
),
denominators AS (
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k_grp) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k_grp, 'all') AS grp,
           count(DISTINCT patient_id) AS n_patients, count(DISTINCT session_id) AS n_sessions
    FROM keyed
    GROUP BY GROUPING SETS ((), (route), (dose_band), (k_grp))
),
counts AS (
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k_grp) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k_grp, 'all') AS grp, effect,
           count(DISTINCT patient_id) AS patients, count(DISTINCT session_id) AS sessions,
           count(*) FILTER (WHERE severity = 'mild') AS mild, count(*) FILTER (WHERE severity = 'moderate') AS moderate,
           count(*) FILTER (WHERE severity = 'severe') AS severe
    FROM keyed
    WHERE effect IS NOT NULL
    GROUP BY GROUPING SETS ((effect), (route, effect), (dose_band, effect), (k_grp, effect))
)
SELECT c.*, d.n_patients, d.n_sessions
FROM counts c JOIN denominators d USING (grouping_by, grp)
WHERE c.grp IS NOT NULL AND NOT (c.grouping_by = 'k' AND c.grp = 'all')
ORDER BY c.grouping_by, c.grp, c.patients DESC
