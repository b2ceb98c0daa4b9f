-- title: Incidents explained by permits
-- question: Which incidents does an active permit or traffic order explain (works, events), and how much lower is their severity?
-- reads: incidents_latest
SELECT
    category,
    count() AS incidents,
    countIf(length(permits) > 0) AS explained,
    round(100 * explained / incidents, 1) AS explained_pct,
    round(avgIf(severity, length(permits) > 0), 2) AS severity_explained,
    round(avgIf(severity, length(permits) = 0), 2) AS severity_other
FROM incidents_latest
GROUP BY category
HAVING explained > 0
ORDER BY explained DESC, category
