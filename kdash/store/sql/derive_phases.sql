-- The phase of each session whose source gave none (data-contract §3: "when blank, derived from the route's
-- induction length in the clinic settings"), for the patients in $ids (NULL: everyone). A session is induction
-- while fewer completed sessions of its route came before it than the route's planned induction; a phase the
-- source gave counts as given and is never changed here.
SELECT session_id,
       CASE WHEN coalesce(count(*) FILTER (WHERE status = 'completed') OVER (
                PARTITION BY patient_id, route ORDER BY scheduled_at, session_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                < CASE route WHEN 'iv_ketamine' THEN $iv WHEN 'esketamine' THEN $esk WHEN 'sc_ketamine' THEN $sc
                             WHEN 'im_ketamine' THEN $im ELSE $oral END
            THEN 'induction' ELSE 'maintenance' END AS phase,
       phase_derived
FROM sessions
WHERE $ids IS NULL OR list_contains($ids, patient_id)
