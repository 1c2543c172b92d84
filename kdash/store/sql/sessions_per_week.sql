-- Bookings per week by status over the $weeks weeks up to and including $today's week.
SELECT date_trunc('week', scheduled_at)::DATE AS week, status, count(*) AS sessions
FROM sessions
WHERE scheduled_at >= date_trunc('week', $today::DATE) - INTERVAL (7 * ($weeks - 1)) DAY
  AND scheduled_at < date_trunc('week', $today::DATE) + INTERVAL 7 DAY
GROUP BY ALL
ORDER BY week, status
