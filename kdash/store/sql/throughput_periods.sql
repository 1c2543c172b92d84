-- Per period: bookings by status, no-show and late-cancellation rates, booked chair-hours (the slots booked, for
-- completed, missed and still-booked sessions) and completed chair-hours inside opening hours, with the completed
-- chair-hours outside them apart (clinical-reference §7).
WITH b AS ({{bookings}})
SELECT period,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'no_show') AS no_show,
       count(*) FILTER (WHERE status = 'scheduled') AS scheduled,
       count(*) FILTER (WHERE status = 'cancelled' AND cancelled_at > scheduled_at - INTERVAL 24 HOUR) AS late_cancelled,
       coalesce(sum(booked_minutes) FILTER (WHERE status IN ('completed', 'no_show', 'scheduled')), 0) / 60.0
         AS booked_hours,
       coalesce(sum(in_hours_minutes) FILTER (WHERE status = 'completed'), 0) / 60.0 AS completed_hours,
       coalesce(sum(chair_minutes - in_hours_minutes) FILTER (WHERE status = 'completed' AND in_hours_minutes IS NOT NULL),
                0) / 60.0 AS out_of_hours_hours
FROM b GROUP BY period ORDER BY period
