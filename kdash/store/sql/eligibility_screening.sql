-- The latest answer per screening item; two answers on one day: 'present' over 'unknown' over 'absent' (a
-- contraindication reported that day stands, a work-up item done that day is done).
SELECT patient_id, item,
       arg_max(status, (coalesce(assessed_on, DATE '1900-01-01'),
                        CASE status WHEN 'present' THEN 2 WHEN 'unknown' THEN 1 ELSE 0 END)) AS status,
       max(assessed_on) AS assessed_on,
       arg_max(source, (coalesce(assessed_on, DATE '1900-01-01'),
                        CASE status WHEN 'present' THEN 2 WHEN 'unknown' THEN 1 ELSE 0 END, source)) AS source
FROM screening
WHERE $ids IS NULL OR list_contains($ids, patient_id)
GROUP BY patient_id, item
