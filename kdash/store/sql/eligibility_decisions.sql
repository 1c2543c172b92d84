-- The latest clinician decision per patient and route, one whole row. Decisions made at the same instant (two
-- clinicians at once) are taken most cautious verdict first, then by kind, reason and clinician, so the one shown
-- never depends on the order they were written.
SELECT patient_id, route, kind, verdict, reason, decided_by, decided_at
FROM eligibility_decisions
WHERE $ids IS NULL OR list_contains($ids, patient_id)
QUALIFY row_number() OVER (
    PARTITION BY patient_id, route
    ORDER BY decided_at DESC, CASE verdict WHEN 'not_eligible' THEN 0 WHEN 'needs_review' THEN 1 ELSE 2 END,
             kind, reason, decided_by) = 1
