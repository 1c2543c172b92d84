-- Each treated patient's course on each depression scale, with the clinic's outcome settings
-- (clinical-reference §1): the baseline (last score on or before the first session's day, at most $lookback
-- days before); the last observation (latest score from the first session's day to $window days after the
-- last session); the score at each fixed timepoint, after sessions 2, 4, 6, at the end of induction and at the
-- last observation (the first score after session k, on or before session k+1's day or within $window days
-- when there is none; missing or session k never reached: the last score so far, LOCF); and the first
-- session and day at which the score counting for a session under that same definition had fallen by
-- ≥ $response from baseline, with the last session and day so scored (time to response, censored there).
-- Of two scores of a scale on one day the higher counts as the later (first_after in score_points_build.sql
-- takes the lower as the first), so a rebuild never depends on the order the scores were written.
-- The obs_* columns are the same timepoints observed (nothing carried forward), for the completers' analysis set.
-- Computed from the record as it stood at the end of $as_of (NULL: now, the stored facts).
-- Read by the outcome queries through cohort_scores.sql.
WITH course AS (
    SELECT patient_id, first_day, last_day,
           CASE WHEN n_sessions >= 2 THEN 2 END AS k1, CASE WHEN n_sessions >= 4 THEN 4 END AS k2,
           CASE WHEN n_sessions >= 6 THEN 6 END AS k3,
           CASE WHEN n_sessions >= CASE route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                                              WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END
                THEN CASE route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk
                                WHEN 'sc_ketamine' THEN $ind_sc ELSE $ind_other END END AS k4
    FROM ({{course_facts_asof}})
    WHERE $patient_ids IS NULL OR list_contains($patient_ids, patient_id)
),
pts AS (
    SELECT c.*, p.scale, p.assessed_on, p.total, p.after_session, p.first_after,
           p.first_after AND (p.has_next OR p.days_after <= $window::INTEGER) AS counts_after,
           p.assessed_on >= c.first_day - $lookback::INTEGER AS in_lookback,
           p.assessed_on <= c.last_day + $window::INTEGER AS in_window,
           (p.assessed_on, p.total) AS latest   -- the later of two scores: the later day, else the higher
    FROM course c JOIN ({{score_points_asof}}) p USING (patient_id)
),
ends AS (
    SELECT patient_id, scale, any_value(first_day) AS first_day,
           arg_max(total, latest) FILTER (WHERE after_session = 0 AND in_lookback) AS baseline,
           arg_max(total, latest) FILTER (WHERE assessed_on >= first_day AND in_window) AS last_score,
           max(assessed_on) FILTER (WHERE assessed_on >= first_day AND in_window) AS last_on,
           coalesce(any_value(total) FILTER (WHERE after_session = k1 AND counts_after),
                    arg_max(total, latest) FILTER (WHERE in_lookback AND CASE WHEN k1 IS NULL THEN in_window
                                                                              ELSE after_session < k1 END)) AS after_2,
           coalesce(any_value(total) FILTER (WHERE after_session = k2 AND counts_after),
                    arg_max(total, latest) FILTER (WHERE in_lookback AND CASE WHEN k2 IS NULL THEN in_window
                                                                              ELSE after_session < k2 END)) AS after_4,
           coalesce(any_value(total) FILTER (WHERE after_session = k3 AND counts_after),
                    arg_max(total, latest) FILTER (WHERE in_lookback AND CASE WHEN k3 IS NULL THEN in_window
                                                                              ELSE after_session < k3 END)) AS after_6,
           coalesce(any_value(total) FILTER (WHERE after_session = k4 AND counts_after),
                    arg_max(total, latest) FILTER (WHERE in_lookback AND CASE WHEN k4 IS NULL THEN in_window
                                                                              ELSE after_session < k4 END)) AS end_of_induction,
           arg_max(total, latest) FILTER (WHERE in_lookback AND in_window) AS last_observation,
           -- observed cases (the completers' analysis set): the score that counts for the timepoint, nothing carried
           any_value(total) FILTER (WHERE after_session = k1 AND counts_after) AS obs_2,
           any_value(total) FILTER (WHERE after_session = k2 AND counts_after) AS obs_4,
           any_value(total) FILTER (WHERE after_session = k3 AND counts_after) AS obs_6,
           any_value(total) FILTER (WHERE after_session = k4 AND counts_after) AS obs_end,
           arg_max(total, latest) FILTER (WHERE after_session >= 1 AND in_window) AS obs_last,
           -- the first session a score follows: before it, an all-treated timepoint carries the baseline forward
           min(after_session) FILTER (WHERE after_session >= 1 AND in_window) AS first_scored_session
    FROM pts
    GROUP BY patient_id, scale
),
responses AS (   -- after the first session only, on the scores that count for a session (counts_after: the
                 -- timepoint definition above, at most one per session, so the first session and day go together);
                 -- needs the baseline, so a second pass over the points
    SELECT e.patient_id, e.scale,
           min(p.after_session) FILTER (WHERE (e.baseline - p.total) / e.baseline >= $response) AS response_session,
           min(p.assessed_on - e.first_day) FILTER (WHERE (e.baseline - p.total) / e.baseline >= $response) AS response_day,
           max(p.after_session) AS last_scored_session, max(p.assessed_on - e.first_day) AS last_scored_day
    FROM ends e JOIN pts p ON p.patient_id = e.patient_id AND p.scale = e.scale AND p.after_session >= 1
                              AND p.counts_after
    WHERE e.baseline > 0
    GROUP BY e.patient_id, e.scale
)
SELECT e.patient_id, e.scale, e.baseline, e.last_score, e.last_on, e.after_2, e.after_4, e.after_6,
       e.end_of_induction, e.last_observation, r.response_session, r.response_day, r.last_scored_session,
       r.last_scored_day, e.obs_2, e.obs_4, e.obs_6, e.obs_end, e.obs_last, e.first_scored_session
FROM ends e LEFT JOIN responses r USING (patient_id, scale)
