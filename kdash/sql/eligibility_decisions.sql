-- The latest clinician decision per patient and route.
SELECT patient_id, route, arg_max(kind, decided_at) AS kind, arg_max(verdict, decided_at) AS verdict,
       arg_max(reason, decided_at) AS reason, arg_max(decided_by, decided_at) AS decided_by, max(decided_at) AS decided_at
FROM eligibility_decisions
WHERE $ids IS NULL OR list_contains($ids, patient_id)
GROUP BY patient_id, route
