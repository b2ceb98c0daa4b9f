-- title: Camera detections by hour of day
-- question: When do the cameras detect loud music, crowds, fights and gunshots (the seed article's late-night concerns)?
-- reads: events_per_hour (rollup kept by a materialised view)
SELECT
    kind,
    toHour(hour) AS hour_of_day,
    sum(events) AS detections
FROM events_per_hour
WHERE source = 'camera'
GROUP BY kind, hour_of_day
ORDER BY kind, hour_of_day
