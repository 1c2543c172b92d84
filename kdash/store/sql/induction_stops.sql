-- Induction sessions completed per patient whose first session fell in [$start, $end] and whose course
-- has settled (last session more than 21 days before $end): how far induction got, as it stood at $as_of.
WITH c AS (SELECT patient_id, route, first_day, last_day, n_induction AS n FROM ({{course_facts_asof}}))
SELECT route, n AS induction_sessions, count(*) AS patients,
       CASE route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk WHEN 'sc_ketamine' THEN $ind_sc
                  ELSE $ind_other END AS planned
FROM c
WHERE first_day BETWEEN $start AND $end AND last_day < $end::DATE - 21 AND ($route = 'all' OR route = $route)
GROUP BY ALL ORDER BY route, n
