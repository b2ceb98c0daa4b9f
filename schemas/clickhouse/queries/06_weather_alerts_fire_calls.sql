-- title: Effect of weather alerts on fire calls
-- question: Are there more fire calls per hour while a weather alert is in force?
-- reads: events (fire calls; weather_alert context events with their validity window)
SELECT
    if(under_alert, 'alert', 'no alert') AS weather,
    count() AS hours,
    sum(calls) AS fire_calls,
    round(sum(calls) / count(), 2) AS fire_calls_per_hour
FROM
(
    SELECT
        hour,
        calls,
        hour IN
        (
            SELECT toUInt32(arrayJoin(arrayMap(
                i -> intDiv(toUInt32(toUnixTimestamp(assumeNotNull(valid_from))), 3600) + i,
                range(toUInt32(intDiv(
                    toUInt32(toUnixTimestamp(assumeNotNull(valid_until)))
                    - toUInt32(toUnixTimestamp(assumeNotNull(valid_from))), 3600))))))
            FROM events FINAL
            WHERE kind = 'weather_alert'
        ) AS under_alert
    FROM
    (
        SELECT toUInt32(arrayJoin(arrayMap(i -> first_hour + i, range(toUInt32(last_hour - first_hour + 1))))) AS hour
        FROM
        (
            SELECT
                intDiv(toUInt32(toUnixTimestamp(min(event_time))), 3600) AS first_hour,
                intDiv(toUInt32(toUnixTimestamp(max(event_time))), 3600) AS last_hour
            FROM events
            WHERE source = 'fire'
        )
    ) AS span
    ANY LEFT JOIN
    (
        SELECT intDiv(toUInt32(toUnixTimestamp(event_time)), 3600) AS hour, count() AS calls
        FROM events FINAL
        WHERE source = 'fire' AND kind IN ('structure_fire', 'vehicle_fire', 'brush_fire')
        GROUP BY hour
    ) AS fire USING hour
)
GROUP BY weather
ORDER BY weather
