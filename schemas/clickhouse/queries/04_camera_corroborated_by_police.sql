-- title: Camera detections corroborated by a police call
-- question: Of the camera analytics' detections, which share ended up in an incident that a police call also reported?
-- reads: events, incidents_latest
SELECT
    kind,
    count() AS detections,
    countIf(with_police) AS corroborated,
    round(100 * corroborated / detections, 1) AS corroborated_pct
FROM
(
    SELECT
        kind,
        event_id GLOBAL IN
        (
            SELECT arrayJoin(event_ids)
            FROM incidents_latest
            WHERE has(sources, 'police')
        ) AS with_police
    FROM events FINAL
    WHERE source = 'camera'
)
GROUP BY kind
ORDER BY detections DESC, kind
