-- Every depression score with the completed sessions before its day (after_session; 0 = baseline side),
-- the days since that session, whether another session followed it, and whether it is the first score of
-- its scale after that session: the facts every outcome of clinical-reference §1 is read from; as they stood at
-- the end of $as_of (NULL: now), so a report of a past period reads nothing written after it.
-- Sessions are numbered in (scheduled_at, session_id) order, and a score follows the last session of the latest
-- day before its own (days: one row per day, so the ASOF join never picks between two sessions of a day).
WITH done AS (
    SELECT patient_id, scheduled_at::DATE AS day,
           row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at, session_id) AS k,
           count(*) OVER (PARTITION BY patient_id) AS n
    FROM sessions
    WHERE status = 'completed' AND ($ids IS NULL OR list_contains($ids, patient_id))
      AND ($as_of IS NULL OR scheduled_at < $as_of::DATE + 1)
),
days AS (
    SELECT patient_id, day, max(k) AS k, max(n) AS n FROM done GROUP BY patient_id, day
),
scored AS (
    SELECT a.patient_id, a.scale, a.assessed_on, a.total,
           coalesce(d.k, 0) AS after_session, a.assessed_on - d.day AS days_after, coalesce(d.k < d.n, TRUE) AS has_next
    FROM assessments a
    ASOF LEFT JOIN days d ON a.patient_id = d.patient_id AND a.assessed_on > d.day
    WHERE a.scale IN ('MADRS', 'PHQ9', 'QIDS_SR16', 'HAMD17', 'BDI2')
      AND ($ids IS NULL OR list_contains($ids, a.patient_id)) AND ($as_of IS NULL OR a.assessed_on <= $as_of)
)
SELECT *, row_number() OVER (PARTITION BY patient_id, scale, after_session ORDER BY assessed_on, total) = 1 AS first_after
FROM scored
