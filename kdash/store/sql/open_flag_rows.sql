-- Open flags, as evidence rows (patient_id, rule, severity, day, value, evidence_at, newer_day, newer_value): per
-- patient and rule, the evidence after the last acknowledgement made by $today. A less severe flag is resolved when the
-- rule's latest clearing observation is later than all of its evidence; an urgent one (a suicide-risk answer) closes
-- only when a clinician acknowledges it, and a later clearing observation is kept on it as new evidence (newer_day,
-- newer_value: "PHQ-9 item 9 = 0" on 4 Mar), never a reason to close it (clinical-reference §4 and its preamble).
-- A deceased patient has no open flag: the record says so on every screen instead.
-- The log part is sql/flag_log_window.sql or the rules evaluated live (kdash/store/flag_log.py logged_query).
WITH logged AS ({log}),
acked AS (
    SELECT patient_id, rule, max(through_day) AS through
    FROM flag_acks
    WHERE acknowledged_at < $today::DATE + 1 AND ($ids IS NULL OR list_contains($ids, patient_id))
    GROUP BY patient_id, rule
),
pending AS (
    SELECT l.* FROM logged l LEFT JOIN acked a USING (patient_id, rule)
    WHERE l.severity <> 'clear' AND (a.through IS NULL OR l.day > a.through)
),
later AS (   -- the rule's latest clearing observation after all of a flag's evidence, and whether the flag is urgent
    SELECT c.patient_id, c.rule, c.day AS newer_day, c.value AS newer_value, p.urgent
    FROM logged c JOIN (SELECT patient_id, rule, max(day) AS last_day, bool_or(severity = 'urgent') AS urgent
                        FROM pending GROUP BY ALL) p
         USING (patient_id, rule)
    WHERE c.severity = 'clear' AND c.day > p.last_day
)
SELECT p.patient_id, p.rule, p.severity, p.day, p.value, p.evidence_at, l.newer_day, l.newer_value
FROM pending p LEFT JOIN later l USING (patient_id, rule)
WHERE (l.patient_id IS NULL OR l.urgent)
  AND p.patient_id NOT IN (SELECT patient_id FROM patients WHERE deceased)   -- a deceased patient is on no worklist
