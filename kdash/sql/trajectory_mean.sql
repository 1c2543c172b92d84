-- Mean score after session k with its spread, from the observed scores of sql/trajectory.sql.
WITH t AS ({{trajectory}})
SELECT k, count(*) AS n, avg(total) AS mean, stddev_samp(total) AS sd
FROM t GROUP BY k ORDER BY k
