-- Share of treated patients (≥ 1 completed session) who had each effect at least once.
WITH treated AS (SELECT count(DISTINCT patient_id) AS n FROM sessions WHERE status = 'completed')
SELECT e.effect, count(DISTINCT s.patient_id) AS patients, (SELECT n FROM treated) AS treated,
       count(DISTINCT s.patient_id) / (SELECT n FROM treated) AS rate
FROM side_effects e JOIN sessions s USING (session_id)
GROUP BY e.effect ORDER BY rate DESC
