-- Chair occupancy by weekday and hour: completed chair-minutes falling in each clock hour. A session is
-- cut at clock hours by joining it to the hours it touches (a cross join with the longest stay's hour count
-- is cheaper than a range() per session).
WITH b AS ({{bookings}}),
done AS (SELECT started_at, ended_at, date_trunc('hour', started_at) AS first_hour
         FROM b WHERE status = 'completed' AND ended_at > started_at),
hours AS (
    SELECT started_at, ended_at, first_hour + to_hours(h) AS slot
    FROM done, range(0, (SELECT coalesce(max(date_diff('hour', first_hour, ended_at)), 0) + 1 FROM done)) AS r(h)
)
SELECT isodow(slot) - 1 AS weekday, hour(slot) AS hour,
       sum(date_diff('minute', greatest(started_at, slot), least(ended_at, slot + INTERVAL 1 HOUR))) AS minutes
FROM hours
WHERE least(ended_at, slot + INTERVAL 1 HOUR) > greatest(started_at, slot)
GROUP BY ALL ORDER BY weekday, hour
