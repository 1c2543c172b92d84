-- Course facts as they stood at the end of $as_of: the stored table for now ($as_of NULL), else rebuilt from the
-- sessions up to that day (a report of a past period, remade later, gives the same numbers). One branch runs.
SELECT * FROM course_facts WHERE $as_of IS NULL
UNION ALL
SELECT * FROM ({{course_facts_build}}) WHERE $as_of IS NOT NULL
