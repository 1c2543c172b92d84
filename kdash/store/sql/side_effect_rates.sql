-- Side-effect frequencies overall and by route, dose band and session number (k ≤ $max_k): per patient
-- (had it at least once) and per session, with each group's denominators.
-- Patients per group are sums of the facts' first-of-group flags (a patient's first report of the effect in the
-- group; their first session of the route or dose band), so no view groups by patient. The 'all' and
-- per-session-number denominators come from the cohort's course counts: session k exists for every patient
-- with at least k completed sessions (session_facts numbers completed sessions 1, 2, …).
WITH cohort AS ({{cohort}}),
fine AS (   -- reports per route, dose band, session number and effect, with the flags counted
    SELECT route, dose_band, CASE WHEN k <= $max_k THEN k::VARCHAR END AS k, effect, count(*) AS sessions,
           count(*) FILTER (WHERE first_of_effect) AS p_all, count(*) FILTER (WHERE first_in_route) AS p_route,
           count(*) FILTER (WHERE first_in_dose_band) AS p_dose_band, count(*) FILTER (WHERE first_in_session) AS p_k,
           count(*) FILTER (WHERE severity = 'mild') AS mild, count(*) FILTER (WHERE severity = 'moderate') AS moderate,
           count(*) FILTER (WHERE severity = 'severe') AS severe
    FROM effect_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
    GROUP BY ALL
),
counts AS (
    SELECT CASE WHEN grouping(route) = 0 THEN 'route' WHEN grouping(dose_band) = 0 THEN 'dose_band'
                WHEN grouping(k) = 0 THEN 'k' ELSE 'all' END AS grouping_by,
           coalesce(route, dose_band, k, 'all') AS grp, effect,
           CASE WHEN grouping(route) = 0 THEN sum(p_route) WHEN grouping(dose_band) = 0 THEN sum(p_dose_band)
                WHEN grouping(k) = 0 THEN sum(p_k) ELSE sum(p_all) END::BIGINT AS patients,
           sum(sessions)::BIGINT AS sessions, sum(mild)::BIGINT AS mild, sum(moderate)::BIGINT AS moderate,
           sum(severe)::BIGINT AS severe
    FROM fine
    GROUP BY GROUPING SETS ((effect), (route, effect), (dose_band, effect), (k, effect))
),
route_dose AS (   -- completed sessions per route and dose band, with first sessions of each counted
    SELECT route, dose_band, count(*) AS sessions, count(*) FILTER (WHERE first_in_route) AS p_route,
           count(*) FILTER (WHERE first_in_dose_band) AS p_dose_band
    FROM session_facts WHERE patient_id IN (SELECT patient_id FROM cohort)
    GROUP BY ALL
),
denominators AS (
    SELECT 'all' AS grouping_by, 'all' AS grp, count(*) AS n_patients, sum(n_sessions)::BIGINT AS n_sessions
    FROM cohort
    UNION ALL
    SELECT 'k', k::VARCHAR, count(*), count(*)
    FROM cohort, range(1, $max_k + 1) r(k) WHERE n_sessions >= k GROUP BY k
    UNION ALL
    SELECT 'route', route, sum(p_route)::BIGINT, sum(sessions)::BIGINT FROM route_dose GROUP BY route
    UNION ALL
    SELECT 'dose_band', dose_band, sum(p_dose_band)::BIGINT, sum(sessions)::BIGINT FROM route_dose GROUP BY dose_band
)
SELECT c.*, d.n_patients, d.n_sessions
FROM counts c JOIN denominators d USING (grouping_by, grp)
WHERE NOT (c.grouping_by = 'k' AND c.grp = 'all')
ORDER BY c.grouping_by, c.grp, c.patients DESC, c.effect
