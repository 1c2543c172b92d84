-- Treated patients (≥ 1 completed session) matching the outcome filters, with their course so far
-- (course_facts, kept current on every write; as they stood at the end of $as_of for a past period), and whether it
-- is still under way then: a session in the 21 days before, or one booked ahead (now only: a booking's own date is
-- not kept, so a past period reads nothing after its end).
-- Included by other queries (double-brace cohort); the analysis set keeps everyone ('itt') or induction completers.
SELECT *
FROM (
    SELECT c.*, p.sex, p.primary_diagnosis, p.clinician, p.deceased,
           date_diff('year', p.birth_date, c.first_day)
             - (strftime(c.first_day, '%m%d') < strftime(p.birth_date, '%m%d'))::INTEGER AS age,
           c.n_induction >= CASE c.route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                                         WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END AS completer,
           CASE c.route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                        WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END AS planned,
           NOT coalesce(p.deceased AND (p.deceased_on IS NULL OR p.deceased_on <= coalesce($as_of, $today)), FALSE)
           AND (c.last_day >= coalesce($as_of, $today)::DATE - 21
             OR ($as_of IS NULL AND c.patient_id IN (SELECT patient_id FROM sessions
                                                     WHERE status = 'scheduled' AND scheduled_at >= $today::DATE)))
             AS under_way
    FROM ({{course_facts_asof}}) c
    JOIN patients p USING (patient_id)
    WHERE ($route = 'all' OR c.route = $route)
      AND ($start IS NULL OR c.first_day >= $start::DATE)
      AND ($end IS NULL OR c.first_day <= $end::DATE)
      AND ($diagnosis IS NULL OR p.primary_diagnosis = $diagnosis)
      AND ($sex IS NULL OR p.sex = $sex)
      AND ($clinician IS NULL OR p.clinician = $clinician)
      AND ($patient_ids IS NULL OR list_contains($patient_ids, c.patient_id))
)
WHERE ($set = 'itt' OR completer)
  AND ($age_min IS NULL OR age >= $age_min)
  AND ($age_max IS NULL OR age <= $age_max)
