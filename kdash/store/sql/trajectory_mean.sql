-- Mean score after session k with its spread, from the observed scores of sql/trajectory_points.sql.
WITH t AS ({{trajectory_points}})
SELECT k, count(*) AS n, avg(total) AS mean, stddev_samp(total) AS sd
FROM t GROUP BY k ORDER BY k
