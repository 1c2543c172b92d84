-- Chair time of completed sessions by route: distribution summary and the share under $observe minutes.
WITH b AS ({{bookings}})
SELECT route, count(*) AS sessions, quantile_cont(chair_minutes, 0.25) AS q1, median(chair_minutes) AS median,
       quantile_cont(chair_minutes, 0.75) AS q3, min(chair_minutes) AS shortest, max(chair_minutes) AS longest,
       count(*) FILTER (WHERE chair_minutes < $observe) AS under_observe,
       histogram(chair_minutes // 10 * 10) AS minutes_histogram
FROM b WHERE status = 'completed' AND started_at IS NOT NULL
GROUP BY route ORDER BY route
