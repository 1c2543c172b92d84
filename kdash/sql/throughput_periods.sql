-- Per period: bookings by status, no-show and late-cancellation rates, booked and completed chair-hours.
WITH b AS ({{bookings}})
SELECT period,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'no_show') AS no_show,
       count(*) FILTER (WHERE status = 'scheduled') AS scheduled,
       count(*) FILTER (WHERE status = 'cancelled' AND cancelled_at > scheduled_at - INTERVAL 24 HOUR) AS late_cancelled,
       sum(chair_minutes) FILTER (WHERE status IN ('completed', 'no_show', 'scheduled')) / 60.0 AS booked_hours,
       sum(chair_minutes) FILTER (WHERE status = 'completed') / 60.0 AS completed_hours
FROM b GROUP BY period ORDER BY period
