-- Side-effect frequencies overall and by route, dose band and session number (k ≤ $max_k): per patient
-- (had it at least once) and per session, with each group's denominators. Patients are counted after a
-- per-patient grouping (faster than count(DISTINCT) over grouping sets on 100,000 patients).
WITH s AS MATERIALIZED ({{side_effect_sessions}}),
counts AS (
    SELECT 'all' AS grouping_by, grp, effect, count(*) AS patients, sum(n) AS sessions, sum(mild) AS mild,
           sum(moderate) AS moderate, sum(severe) AS severe
    FROM (SELECT 'all' AS grp, effect, patient_id, count(*) AS n, count(*) FILTER (WHERE severity = 'mild') AS mild,
                 count(*) FILTER (WHERE severity = 'moderate') AS moderate,
                 count(*) FILTER (WHERE severity = 'severe') AS severe
          FROM s WHERE effect IS NOT NULL GROUP BY ALL)
    GROUP BY grp, effect
    UNION ALL
    SELECT 'route' AS grouping_by, grp, effect, count(*) AS patients, sum(n) AS sessions, sum(mild) AS mild,
           sum(moderate) AS moderate, sum(severe) AS severe
    FROM (SELECT route AS grp, effect, patient_id, count(*) AS n, count(*) FILTER (WHERE severity = 'mild') AS mild,
                 count(*) FILTER (WHERE severity = 'moderate') AS moderate,
                 count(*) FILTER (WHERE severity = 'severe') AS severe
          FROM s WHERE effect IS NOT NULL GROUP BY ALL)
    GROUP BY grp, effect
    UNION ALL
    SELECT 'dose_band' AS grouping_by, grp, effect, count(*) AS patients, sum(n) AS sessions, sum(mild) AS mild,
           sum(moderate) AS moderate, sum(severe) AS severe
    FROM (SELECT dose_band AS grp, effect, patient_id, count(*) AS n, count(*) FILTER (WHERE severity = 'mild') AS mild,
                 count(*) FILTER (WHERE severity = 'moderate') AS moderate,
                 count(*) FILTER (WHERE severity = 'severe') AS severe
          FROM s WHERE effect IS NOT NULL GROUP BY ALL)
    GROUP BY grp, effect
    UNION ALL
    SELECT 'k' AS grouping_by, grp, effect, count(*) AS patients, sum(n) AS sessions, sum(mild) AS mild,
           sum(moderate) AS moderate, sum(severe) AS severe
    FROM (SELECT k::VARCHAR AS grp, effect, patient_id, count(*) AS n, count(*) FILTER (WHERE severity = 'mild') AS mild,
                 count(*) FILTER (WHERE severity = 'moderate') AS moderate,
                 count(*) FILTER (WHERE severity = 'severe') AS severe
          FROM s WHERE k <= $max_k AND effect IS NOT NULL GROUP BY ALL)
    GROUP BY grp, effect
),
denominators AS (
    SELECT 'all' AS grouping_by, grp, count(*) AS n_patients, sum(n) AS n_sessions
    FROM (SELECT 'all' AS grp, patient_id, count(DISTINCT session_id) AS n FROM s GROUP BY ALL)
    GROUP BY grp
    UNION ALL
    SELECT 'route' AS grouping_by, grp, count(*) AS n_patients, sum(n) AS n_sessions
    FROM (SELECT route AS grp, patient_id, count(DISTINCT session_id) AS n FROM s GROUP BY ALL)
    GROUP BY grp
    UNION ALL
    SELECT 'dose_band' AS grouping_by, grp, count(*) AS n_patients, sum(n) AS n_sessions
    FROM (SELECT dose_band AS grp, patient_id, count(DISTINCT session_id) AS n FROM s GROUP BY ALL)
    GROUP BY grp
    UNION ALL
    SELECT 'k' AS grouping_by, grp, count(*) AS n_patients, sum(n) AS n_sessions
    FROM (SELECT k::VARCHAR AS grp, patient_id, count(DISTINCT session_id) AS n FROM s WHERE k <= $max_k GROUP BY ALL)
    GROUP BY grp
)
SELECT c.*, d.n_patients, d.n_sessions
FROM counts c JOIN denominators d USING (grouping_by, grp)
ORDER BY c.grouping_by, c.grp, c.patients DESC
