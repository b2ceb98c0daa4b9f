-- title: Why events were linked
-- question: Which linking rules tie incidents together, at what typical distance and time gap?
-- reads: incident_evidence (current links of each incident)
SELECT
    rule,
    count() AS links,
    uniqExact(incident_id) AS incidents,
    round(quantile(0.5)(distance_m), 1) AS median_distance_m,
    round(quantile(0.5)(time_gap_ms) / 1000, 1) AS median_gap_s
FROM incident_evidence
GROUP BY rule
ORDER BY links DESC, rule
