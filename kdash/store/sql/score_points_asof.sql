-- Score points as they stood at the end of $as_of: the stored table for now ($as_of NULL), else rebuilt from the
-- sessions and scores up to that day. One branch runs.
SELECT * FROM score_points WHERE $as_of IS NULL
UNION ALL
SELECT * FROM ({{score_points_build}}) WHERE $as_of IS NOT NULL
