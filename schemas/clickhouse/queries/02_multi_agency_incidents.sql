-- title: Incidents reported by two or more agencies
-- question: Which categories of incident bring several agencies (police, fire, transport) together, and how often?
-- reads: incidents_latest
SELECT
    category,
    count() AS incidents,
    countIf(length(arrayFilter(s -> has(['police', 'fire', 'transport'], s), sources)) >= 2)
        AS multi_agency,
    round(100 * multi_agency / incidents, 1) AS multi_agency_pct
FROM incidents_latest
WHERE status != 'merged'
GROUP BY category
HAVING multi_agency > 0
ORDER BY multi_agency DESC, category
