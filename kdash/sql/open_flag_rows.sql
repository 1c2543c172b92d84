-- Open flags, as evidence rows (patient_id, rule, severity, day, value, evidence_at): per patient and rule, the evidence after
-- the last acknowledgement made by $today, unless the rule's latest clearing observation is later than all of it
-- (clinical-reference §4 flags stay open until someone acts or a later assessment resolves them, whatever their
-- age). The log part is sql/flag_log_window.sql or the rules evaluated live (kdash/flag_log.py logged_query).
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
cleared AS (
    SELECT c.patient_id, c.rule
    FROM logged c JOIN (SELECT patient_id, rule, max(day) AS last_day FROM pending GROUP BY ALL) p
         USING (patient_id, rule)
    WHERE c.severity = 'clear' AND c.day > p.last_day
)
SELECT p.patient_id, p.rule, p.severity, p.day, p.value, p.evidence_at
FROM pending p ANTI JOIN cleared c USING (patient_id, rule)
