-- The roster: one row per patient with course, main-scale outcome and open flags; filtered, sorted by urgency
-- and paged here so that a page of 50 comes back fast from 100,000 patients.
-- The outcome and flag_rows CTEs are sql/course_outcomes.sql and sql/open_flags.sql, inserted by kdash/clinical/roster.py.
-- Sessions at the same time are taken in session ID order (as in sql/patient_header.sql).
WITH outcome AS ({outcomes}),
flag_rows AS ({flags}),
flagged AS (
    SELECT patient_id,
           min(CASE severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2 ELSE 3 END) AS urgency,
           max(day) AS last_flag_day,
           -- most severe rule first, so the roster names the rule that made the patient urgent
           list(DISTINCT CASE severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2 ELSE 3 END
                || ':' || rule ORDER BY CASE severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2
                ELSE 3 END || ':' || rule) AS ranked
    FROM flag_rows GROUP BY patient_id
),
flagged_rules AS (
    SELECT patient_id, urgency, last_flag_day, list_transform(ranked, lambda x: split_part(x, ':', 2)) AS rules
    FROM flagged
),
phases AS ({{patient_phases}}),
roster AS (
    SELECT p.patient_id, nullif(concat_ws(' ', p.given_name, p.family_name), '') AS name, p.birth_date, p.clinician,
           p.mrn,   -- a name may have one part only (an import's blank given or family name)
           ph.route, ph.sessions, ph.phase,
           o.baseline, o.last_score AS latest, o.pct_change,
           CASE WHEN NOT ph.treated THEN 'not treated'
                WHEN o.status = 'not evaluable' THEN 'not evaluable'
                WHEN o.last_on IS NULL OR o.last_on <= o.first_day THEN 'too early'
                -- non-response is judged after 4 IV infusions / at the end of induction (§4), not before
                WHEN o.status IN ('non-responder', 'partial')
                     AND ph.sessions < CASE ph.route WHEN 'iv_ketamine' THEN $iv_after WHEN 'esketamine' THEN $esk_after
                                                     WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END
                     THEN 'too early'
                ELSE o.status END AS status,
           f.urgency, f.rules, f.last_flag_day, ph.next_session
    FROM patients p
    JOIN phases ph USING (patient_id)
    LEFT JOIN outcome o USING (patient_id)
    LEFT JOIN flagged_rules f USING (patient_id)
)
SELECT *, count(*) OVER () AS total
FROM roster
WHERE ($search IS NULL OR patient_id ILIKE '%' || $search || '%' OR name ILIKE '%' || $search || '%'
       OR mrn ILIKE '%' || $search || '%')
  AND ($route_filter IS NULL OR route = $route_filter)
  AND ($phase IS NULL OR phase = $phase
       OR ($phase = 'active' AND phase IN ('referred', 'waiting', 'induction', 'maintenance')))
  AND ($clinician IS NULL OR clinician = $clinician)
  AND ($status IS NULL OR status = $status)
  AND ($flag IS NULL OR ($flag = 'any' AND urgency IS NOT NULL)
       OR list_contains(rules, $flag))
  AND ($page_ids IS NULL OR list_contains($page_ids, patient_id))
  AND ($only_ids IS NULL OR list_contains($only_ids, patient_id))   -- e.g. the courses not on track
ORDER BY urgency NULLS LAST, last_flag_day DESC NULLS LAST, next_session NULLS LAST, patient_id
LIMIT $limit OFFSET $offset
