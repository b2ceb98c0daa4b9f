-- title: Delay between the first event and the incident's creation
-- question: How long after the first report does Vigie open an incident (median and 90th percentile, seconds)?
-- reads: incidents_latest
SELECT
    category,
    count() AS incidents,
    quantile(0.5)(dateDiff('second', first_event_time, created_at)) AS median_delay_s,
    quantile(0.9)(dateDiff('second', first_event_time, created_at)) AS p90_delay_s
FROM incidents_latest
GROUP BY category
ORDER BY median_delay_s DESC, category
