-- title: Response times
-- question: How long between an incident's creation and the first operator acknowledgement, by category and severity?
-- reads: incidents_latest, incident_acks
SELECT
    category,
    severity,
    count() AS acknowledged,
    quantile(0.5)(delay_s) AS median_s,
    quantile(0.9)(delay_s) AS p90_s
FROM
(
    SELECT category, severity, dateDiff('second', created_at, first_ack) AS delay_s
    FROM
    (
        SELECT incident_id, category, severity, created_at
        FROM incidents_latest
    ) AS latest
    ALL INNER JOIN
    (
        SELECT incident_id, min(at) AS first_ack
        FROM incident_acks FINAL
        WHERE action = 'ack'
        GROUP BY incident_id
    ) AS acked USING incident_id
)
GROUP BY category, severity
ORDER BY severity DESC, category
