-- Chair occupancy by weekday and hour: completed chair-minutes falling in each clock hour.
WITH b AS ({{bookings}}),
done AS (SELECT started_at, ended_at FROM b WHERE status = 'completed' AND ended_at > started_at),
hours AS (
    SELECT started_at, ended_at, date_trunc('hour', started_at) + to_hours(h) AS slot
    FROM done, range(0, date_diff('hour', date_trunc('hour', started_at), ended_at) + 1) AS r(h)
)
SELECT isodow(slot) - 1 AS weekday, hour(slot) AS hour,
       sum(date_diff('minute', greatest(started_at, slot), least(ended_at, slot + INTERVAL 1 HOUR))) AS minutes
FROM hours
WHERE least(ended_at, slot + INTERVAL 1 HOUR) > greatest(started_at, slot)
GROUP BY ALL ORDER BY weekday, hour
