-- The latest answer per screening item.
SELECT patient_id, item, arg_max(status, coalesce(assessed_on, DATE '1900-01-01')) AS status, max(assessed_on) AS assessed_on
FROM screening
WHERE $ids IS NULL OR list_contains($ids, patient_id)
GROUP BY patient_id, item
