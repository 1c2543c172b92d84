-- Safety flags of clinical-reference §4 whose evidence lies between $since and $today, for the whole
-- clinic ($patient_id NULL) or one patient: one row per piece of evidence (patient, rule, severity, day, value, evidence_at:
-- the evidence's time where the record has one, else the start of its day). Severities are the clinic's.
-- Mirrors kdash/clinical/rules.py rule for rule; tests/unit/test_rules.py keeps the two equal.
-- With $with_clears, also the observations that clear a rule (severity 'clear'), e.g. a later PHQ-9 with item 9
-- under the threshold: kdash/clinical/worklist.py closes an open flag on a clear dated after its last evidence.
-- Ties are broken as in kdash/clinical/rules.py: sessions in (scheduled_at, session_id) order, a scale's scores in
-- (assessed_on, total, items, session_id) order, so the flags never depend on the order rows were written.
WITH active AS MATERIALIZED (   -- only patients with evidence in the window can have an open flag
    SELECT patient_id FROM sessions
    WHERE scheduled_at >= $since::DATE AND scheduled_at < $today::DATE + 1
      AND ($patient_id IS NULL OR patient_id = $patient_id)
      AND ($flag_patients IS NULL OR list_contains($flag_patients, patient_id))
    UNION
    SELECT patient_id FROM assessments
    WHERE assessed_on BETWEEN $since AND $today AND ($patient_id IS NULL OR patient_id = $patient_id)
      AND ($flag_patients IS NULL OR list_contains($flag_patients, patient_id))
),
done AS MATERIALIZED (
    SELECT patient_id, session_id, scheduled_at::DATE AS day, route, phase,
           round(dose_mg / weight_kg, 2) AS mg_per_kg, date_diff('minute', started_at, ended_at) AS chair_minutes,
           coalesce(ended_at, started_at, scheduled_at) AS finished_at, rems_form_sent_on,
           row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at, session_id) AS k
    FROM sessions
    WHERE status = 'completed' AND patient_id IN (SELECT patient_id FROM active)
),
done_days AS (   -- a score follows the last session of the latest day before its own
    SELECT patient_id, day, max(k) AS k FROM done GROUP BY patient_id, day
),
course AS MATERIALIZED (
    SELECT patient_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n, arg_min(route, k) AS route
    FROM done GROUP BY patient_id
),
scored AS MATERIALIZED (   -- depression scores of the treated
    SELECT a.patient_id, a.scale, a.assessed_on, a.total
    FROM assessments a
    WHERE a.scale IN ('MADRS', 'PHQ9', 'QIDS_SR16', 'HAMD17', 'BDI2')
      AND a.patient_id IN (SELECT patient_id FROM course)
),
baselines AS (
    SELECT s.patient_id, s.scale, arg_max(s.total, (s.assessed_on, s.total)) AS base
    FROM scored s JOIN course c USING (patient_id)
    WHERE s.assessed_on <= c.first_day AND s.assessed_on >= c.first_day - $lookback::INTEGER
    GROUP BY s.patient_id, s.scale
),
later AS (
    SELECT s.*, b.base,
           lag(s.total) OVER (PARTITION BY s.patient_id, s.scale ORDER BY s.assessed_on, s.total) AS previous
    FROM scored s JOIN baselines b USING (patient_id, scale) JOIN course c USING (patient_id)
    WHERE s.assessed_on > c.first_day
),
scored_after AS (   -- main-scale scores that count for the session they follow (clinical-reference §1: after the
                    -- last session, only within $window days), with that session's number k
    SELECT s.patient_id, c.route, d.k, s.assessed_on AS day, s.total, b.base,
           (b.base - s.total) / b.base >= $response AS responded
    FROM scored s JOIN baselines b USING (patient_id, scale) JOIN course c USING (patient_id)
    ASOF JOIN done_days d ON s.patient_id = d.patient_id AND s.assessed_on > d.day
    WHERE s.scale = $main_scale AND b.base > 0 AND (d.k < c.n OR s.assessed_on - d.day <= $window::INTEGER)
),
judged_at AS (   -- the first such score at or after each judging point (§4: infusion 4, and 6 to review the course;
                 -- the end of esketamine induction), never before it; no score there, nothing judged
    SELECT 'iv_after' AS point, * FROM scored_after WHERE route = 'iv_ketamine' AND k >= $iv_after
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY day, total) = 1
    UNION ALL
    SELECT 'iv_review', * FROM scored_after WHERE route = 'iv_ketamine' AND k >= $iv_review AND $iv_review > $iv_after
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY day, total) = 1
    UNION ALL
    SELECT 'esk_after', * FROM scored_after WHERE route = 'esketamine' AND k >= $esk_after
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY day, total) = 1
),
judged AS (   -- not a response at the judging point; the review of an IV course when the first score after infusion 4
              -- was not a response either (one flag when that score is itself after infusion 6)
    SELECT t.patient_id,
           CASE t.route WHEN 'iv_ketamine' THEN 'iv_nonresponse' ELSE 'esketamine_nonresponse' END AS rule,
           t.day, t.base, t.total,
           CASE WHEN t.point = 'esk_after' THEN 'session ' || t.k || CASE WHEN t.k = $esk_after
                                                THEN ', the end of induction'
                                                ELSE ' (the first score after the end of induction)' END
                WHEN t.point = 'iv_after' AND t.k >= $iv_review AND $iv_review > $iv_after
                     THEN 'infusion ' || t.k || ' — review the course'
                ELSE 'infusion ' || t.k || CASE WHEN t.point = 'iv_review' THEN ' — review the course' ELSE '' END
           END AS timepoint
    FROM judged_at t
    LEFT JOIN judged_at f ON f.patient_id = t.patient_id AND f.point = 'iv_after'
    WHERE NOT t.responded
      AND (t.point <> 'iv_review' OR (NOT f.responded AND f.k < $iv_review))
),
unscored AS (   -- an IV course at infusion $iv_review with no main-scale score after infusion $iv_after's day, up to
                -- infusion $iv_review's: response cannot be judged (§4), dated at that infusion
    SELECT c.patient_id, later.day, later.finished_at, earlier.day AS from_day
    FROM course c
    JOIN done earlier ON earlier.patient_id = c.patient_id AND earlier.k = $iv_after
    JOIN done later ON later.patient_id = c.patient_id AND later.k = $iv_review
    WHERE c.route = 'iv_ketamine' AND $iv_review > $iv_after
      AND NOT EXISTS (SELECT 1 FROM scored s WHERE s.patient_id = c.patient_id AND s.scale = $main_scale
                      AND s.assessed_on > earlier.day AND s.assessed_on <= later.day)
),
watched AS (   -- esketamine sessions in the window, whose monitoring is checked
    SELECT * FROM done WHERE route = 'esketamine' AND day BETWEEN $since AND $today
),
vital_minutes AS (
    SELECT session_id, bool_or(minute < 0) AS has_pre, bool_or(minute BETWEEN 30 AND 60) AS has_40
    FROM vitals
    WHERE measured_at >= $since::DATE - 1 AND session_id IN (SELECT session_id FROM watched)
    GROUP BY session_id
),
maintained AS (
    SELECT *, first_value(mg_per_kg) OVER (PARTITION BY patient_id ORDER BY k) AS first_mgkg,
           max(mg_per_kg) OVER (PARTITION BY patient_id ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
             AS before_max
    FROM done WHERE phase = 'maintenance' AND mg_per_kg IS NOT NULL AND route <> 'esketamine'
),
creeping AS (   -- each session at the creep above the first maintenance dose and above every earlier one: a further
                -- rise is new evidence (it reopens an acknowledged flag); the same dose again is not
    SELECT patient_id, day, first_mgkg, mg_per_kg, session_id FROM maintained
    WHERE before_max IS NOT NULL AND mg_per_kg - first_mgkg >= $creep - 1e-9 AND mg_per_kg > before_max + 1e-9
),
long_course AS (   -- the first session at least $long_term days after the first: the day it became long-term use
    SELECT d.patient_id, min(d.day) AS day, any_value(c.n) AS n
    FROM done d JOIN course c USING (patient_id)
    WHERE d.day - c.first_day >= $long_term GROUP BY d.patient_id
),
rated AS (   -- assessments with the time of the session they belong to (a self-report: the time it was sent)
    SELECT a.*, coalesce(a.reported_at, s.started_at, s.scheduled_at, a.assessed_on::TIMESTAMP) AS evidence_at
    FROM assessments a LEFT JOIN sessions s USING (session_id)
    WHERE a.patient_id IN (SELECT patient_id FROM active) AND a.assessed_on BETWEEN $since AND $today
),
cadss AS (   -- each session's peak CADSS (several ratings by minute, or the one peak recorded)
    SELECT patient_id, assessed_on, total, evidence_at,
           row_number() OVER (PARTITION BY patient_id ORDER BY assessed_on, total, session_id) AS k
    FROM (SELECT a.patient_id, a.assessed_on, a.session_id, max(a.total) AS total, any_value(s.evidence_at) AS evidence_at
          FROM assessments a LEFT JOIN (SELECT session_id, coalesce(started_at, scheduled_at) AS evidence_at
                                        FROM sessions) s USING (session_id)
          WHERE a.scale = 'CADSS' AND a.patient_id IN (SELECT patient_id FROM active)
          GROUP BY a.patient_id, a.assessed_on, a.session_id)
),
dissociated AS (   -- above the line and above each of the patient's previous $rise sessions (§4: "a rise is worth a
                   -- look"; high values in early sessions are expected and shown on the session chart instead)
    SELECT c.patient_id, c.assessed_on, c.total, c.evidence_at,
           string_agg(e.total::VARCHAR, ', ' ORDER BY e.k) AS earlier
    FROM cadss c JOIN cadss e ON e.patient_id = c.patient_id AND e.k BETWEEN c.k - $rise AND c.k - 1
    WHERE c.total > $cadss
    GROUP BY c.patient_id, c.assessed_on, c.total, c.evidence_at, c.k
    HAVING c.total > max(e.total)
),
last_rated AS (   -- per session, the last CADSS of its ratings with a minute, and the last MOAA/S from about 90
                  -- minutes on (of two at one minute, the higher), with how many such ratings there were
    SELECT patient_id, session_id, scale, any_value(assessed_on) AS assessed_on, count(*) AS n,
           arg_max(total, (minute, total)) AS total, max(minute) AS minute,
           any_value(evidence_at) + to_minutes(max(minute)) AS evidence_at
    FROM rated
    WHERE minute IS NOT NULL AND session_id IS NOT NULL
      AND (scale = 'CADSS' OR (scale = 'MOAAS' AND minute >= $recovery))
    GROUP BY patient_id, session_id, scale
),
unsettled AS (SELECT * FROM last_rated WHERE scale = 'CADSS' AND n >= 2),
recovering AS (SELECT * FROM last_rated WHERE scale = 'MOAAS'),
unknown_item AS (   -- scores of a scale with a suicide item recorded as a total only (no PHQ-9 item 9 that day either)
    SELECT r.*, {{scale_words}} AS scale_name,
           CASE r.scale WHEN 'PHQ9' THEN 9 WHEN 'MADRS' THEN 10 ELSE 3 END AS item_no,
           r.total >= CASE r.scale WHEN 'PHQ9' THEN $severe_phq9 WHEN 'MADRS' THEN $severe_madrs
                                   ELSE $severe_hamd END AS severe
    FROM rated r
    WHERE r.scale IN ('PHQ9', 'MADRS', 'HAMD17')
      AND (r.items IS NULL OR len(r.items) < CASE r.scale WHEN 'PHQ9' THEN 9 WHEN 'MADRS' THEN 10 ELSE 3 END)
      AND NOT (r.scale = 'PHQ9' AND EXISTS (SELECT 1 FROM assessments i WHERE i.patient_id = r.patient_id
                                            AND i.scale = 'PHQ9_I9' AND i.assessed_on = r.assessed_on))
),
suicide_answers AS (   -- every recorded answer to a suicide item, in words (new evidence on an open flag, §4); the
                       -- patient's own answer says so (clinical-reference §8)
    SELECT patient_id, assessed_on, evidence_at,
           CASE scale WHEN 'PHQ9' THEN 'PHQ-9 item 9 = ' || items[9] WHEN 'MADRS' THEN 'MADRS item 10 = ' || items[10]
                      WHEN 'HAMD17' THEN 'HAM-D item 3 = ' || items[3] WHEN 'PHQ9_I9' THEN 'PHQ-9 item 9 = ' || total
                      ELSE 'C-SSRS level ' || total END
           || CASE WHEN source = 'self_report' THEN ' (self-reported)' ELSE '' END AS value,
           CASE scale WHEN 'PHQ9' THEN items[9] >= $phq9 WHEN 'MADRS' THEN items[10] >= $madrs
                      WHEN 'HAMD17' THEN items[3] >= $hamd WHEN 'PHQ9_I9' THEN total >= $phq9
                      ELSE total >= $cssrs END AS positive
    FROM rated
    WHERE (scale = 'PHQ9' AND len(items) >= 9) OR (scale = 'MADRS' AND len(items) >= 10)
       OR (scale = 'HAMD17' AND len(items) >= 3) OR scale IN ('CSSRS', 'PHQ9_I9')
),
post_bp AS (   -- per completed session: pre- and post-dose readings, and whether any crossed its line
    SELECT s.patient_id, s.session_id, s.scheduled_at::DATE AS day, coalesce(max(v.measured_at), s.scheduled_at) AS evidence_at,
           count(*) FILTER (WHERE v.minute < 0) AS n_pre, count(*) FILTER (WHERE v.minute >= 0) AS n_post,
           bool_or(v.minute < 0 AND (v.systolic > $pre_sys OR v.diastolic > $pre_dia)) AS pre_high,
           bool_or(v.minute >= 0 AND (v.systolic > $post_sys OR v.diastolic > $post_dia)) AS post_high
    FROM sessions s JOIN vitals v USING (session_id)
    WHERE $with_clears AND s.status = 'completed' AND s.patient_id IN (SELECT patient_id FROM active)
      AND s.scheduled_at >= $since::DATE AND s.scheduled_at < $today::DATE + 1
    GROUP BY s.patient_id, s.session_id, s.scheduled_at
),
flags AS (
    SELECT patient_id, 'suicidal_thoughts' AS rule, 'urgent' AS severity, assessed_on AS day, value, evidence_at
    FROM suicide_answers WHERE positive
    UNION ALL
    SELECT patient_id, 'suicide_item_unknown', CASE WHEN severe THEN 'urgent' ELSE 'review' END, assessed_on,
           scale_name || ' ' || total || ' recorded without item ' || item_no || CASE WHEN severe THEN ' (severe band)'
                                                                                   ELSE '' END, evidence_at
    FROM unknown_item
    UNION ALL
    SELECT patient_id, 'dissociation_unsettled', 'caution', assessed_on,
           'CADSS ' || total || ', ' || {{minute_words}} || ', the last rating of the session', evidence_at
    FROM unsettled WHERE total > $cadss
    UNION ALL
    SELECT patient_id, 'sedation_unresolved', 'caution', assessed_on, 'MOAA/S ' || total || ', ' || {{minute_words}},
           evidence_at
    FROM recovering WHERE total < 5
    UNION ALL
    SELECT patient_id, 'iv_unscored', 'review', day,
           'no ' || $main_scale_name || ' score after infusion ' || $iv_after || ' by infusion ' || $iv_review, finished_at
    FROM unscored
    UNION ALL
    SELECT patient_id, 'rems_form', 'review', day,
           'REMS monitoring form for the session of ' || strftime(day, '%Y-%m-%d') || ' not sent (due by '
           || strftime(day + $rems_days::INTEGER, '%Y-%m-%d') || ')', finished_at
    FROM done WHERE route = 'esketamine' AND rems_form_sent_on IS NULL
    UNION ALL
    SELECT s.patient_id, CASE WHEN v.minute < 0 THEN 'predose_bp' ELSE 'emergent_hypertension' END,
           CASE WHEN v.minute < 0 THEN 'caution' ELSE 'high' END, s.scheduled_at::DATE,
           v.systolic || '/' || v.diastolic || ' mmHg, ' || {{minute_words}},
           coalesce(v.measured_at, s.scheduled_at)
    FROM vitals v JOIN sessions s USING (session_id)
    WHERE s.patient_id IN (SELECT patient_id FROM active)
      AND s.scheduled_at >= $since::DATE AND s.scheduled_at < $today::DATE + 1
      AND v.measured_at >= $since::DATE - 1 AND v.session_id IS NOT NULL
      AND ((v.minute < 0 AND (v.systolic > $pre_sys OR v.diastolic > $pre_dia))
           OR (v.minute >= 0 AND (v.systolic > $post_sys OR v.diastolic > $post_dia)))
    UNION ALL
    SELECT patient_id, 'dissociation', 'caution', assessed_on, 'CADSS ' || total || ' (earlier ' || earlier || ')', evidence_at
    FROM dissociated WHERE assessed_on BETWEEN $since AND $today
    UNION ALL
    SELECT patient_id, 'sedation', 'caution', assessed_on, 'MOAA/S ' || total, evidence_at
    FROM rated WHERE scale = 'MOAAS' AND total <= $moaas
    UNION ALL
    SELECT d.patient_id, 'monitoring', 'caution', d.day,
           concat_ws('; ', CASE WHEN NOT coalesce(m.has_pre, FALSE) THEN 'no BP before dosing' END,
                     CASE WHEN NOT coalesce(m.has_40, FALSE) THEN 'no BP at ~40 min' END,
                     CASE WHEN d.chair_minutes IS NULL OR d.chair_minutes < $observe
                          THEN 'observed ' || coalesce(d.chair_minutes::VARCHAR, '?') || ' min' END),
           d.finished_at
    FROM watched d LEFT JOIN vital_minutes m USING (session_id)
    WHERE (NOT coalesce(m.has_pre, FALSE) OR NOT coalesce(m.has_40, FALSE)
           OR d.chair_minutes IS NULL OR d.chair_minutes < $observe)
    UNION ALL
    SELECT patient_id, 'worsening', 'high', assessed_on,
           {{scale_words}} || ' ' || previous || ' then ' || total || ', baseline ' || base, assessed_on::TIMESTAMP
    FROM later WHERE total > base AND previous > base
    UNION ALL
    SELECT patient_id, rule, 'review', day,
           $main_scale_name || ' ' || base || ' → ' || total || ' (' || printf('%+.0f%%', (total - base) / base * 100)
           || ') after ' || timepoint, day::TIMESTAMP
    FROM judged
    UNION ALL
    SELECT patient_id, 'dose_creep', 'review', day, printf('%.2f → %.2f mg/kg', first_mgkg, mg_per_kg),
           day::TIMESTAMP
    FROM creeping
    UNION ALL
    SELECT patient_id, 'long_term_use', 'review', day, $long_term || ' days of treatment reached', day::TIMESTAMP
    FROM long_course
),
clears AS (   -- observations after which a rule's open flag is resolved without an acknowledgement; for an urgent
              -- flag (a suicide-risk answer) they are shown as new evidence, never a reason to close it (§4)
    SELECT patient_id, 'suicidal_thoughts' AS rule, assessed_on AS day, value, evidence_at
    FROM suicide_answers WHERE $with_clears AND NOT positive
    UNION ALL
    SELECT patient_id, 'suicide_item_unknown', assessed_on, 'recorded: ' || value, evidence_at
    FROM suicide_answers WHERE $with_clears
    UNION ALL
    SELECT patient_id, 'dissociation_unsettled', assessed_on, 'CADSS ' || total || ', ' || {{minute_words}}, evidence_at
    FROM unsettled WHERE $with_clears AND total <= $cadss
    UNION ALL
    SELECT patient_id, 'sedation_unresolved', assessed_on, 'MOAA/S ' || total || ', ' || {{minute_words}}, evidence_at
    FROM recovering WHERE $with_clears AND total = 5
    UNION ALL
    SELECT s.patient_id, 'iv_unscored', s.assessed_on, $main_scale_name || ' ' || s.total || ' recorded',
           s.assessed_on::TIMESTAMP
    FROM scored s JOIN unscored u USING (patient_id)
    WHERE $with_clears AND s.scale = $main_scale AND s.assessed_on > u.day
    UNION ALL
    SELECT patient_id, 'predose_bp', day, 'pre-dose BP within the line', evidence_at FROM post_bp WHERE n_pre > 0 AND NOT pre_high
    UNION ALL
    SELECT patient_id, 'emergent_hypertension', day, 'post-dose BP within the line', evidence_at
    FROM post_bp WHERE n_post > 0 AND NOT post_high
    UNION ALL
    SELECT patient_id, 'dissociation', assessed_on, 'CADSS ' || total, evidence_at
    FROM rated WHERE $with_clears AND scale = 'CADSS' AND total <= $cadss
    UNION ALL
    SELECT patient_id, 'sedation', assessed_on, 'MOAA/S ' || total, evidence_at
    FROM rated WHERE $with_clears AND scale = 'MOAAS' AND total > $moaas
    UNION ALL
    SELECT d.patient_id, 'monitoring', d.day, 'fully monitored session', d.finished_at
    FROM watched d JOIN vital_minutes m USING (session_id)
    WHERE $with_clears AND m.has_pre AND m.has_40 AND d.chair_minutes >= $observe
    UNION ALL
    SELECT patient_id, 'worsening', assessed_on, {{scale_words}} || ' ' || total || ', not above baseline ' || base,
           assessed_on::TIMESTAMP
    FROM later WHERE $with_clears AND total <= base
)
SELECT patient_id, rule,
       CASE WHEN rule = 'suicide_item_unknown' AND severity = 'urgent' THEN 'urgent'   -- a severe total: urgent
            ELSE CASE rule WHEN 'suicidal_thoughts' THEN $sev_suicidal_thoughts
                 WHEN 'emergent_hypertension' THEN $sev_emergent_hypertension
                 WHEN 'worsening' THEN $sev_worsening WHEN 'predose_bp' THEN $sev_predose_bp
                 WHEN 'dissociation' THEN $sev_dissociation WHEN 'sedation' THEN $sev_sedation
                 WHEN 'monitoring' THEN $sev_monitoring WHEN 'iv_nonresponse' THEN $sev_iv_nonresponse
                 WHEN 'esketamine_nonresponse' THEN $sev_esketamine_nonresponse WHEN 'dose_creep' THEN $sev_dose_creep
                 WHEN 'suicide_item_unknown' THEN $sev_suicide_item_unknown WHEN 'iv_unscored' THEN $sev_iv_unscored
                 WHEN 'dissociation_unsettled' THEN $sev_dissociation_unsettled
                 WHEN 'sedation_unresolved' THEN $sev_sedation_unresolved WHEN 'rems_form' THEN $sev_rems_form
                 ELSE $sev_long_term_use END END AS severity,
       day, value, evidence_at
FROM flags WHERE day BETWEEN $since AND $today
UNION ALL
SELECT patient_id, rule, 'clear', day, value, evidence_at FROM clears WHERE day BETWEEN $since AND $today
