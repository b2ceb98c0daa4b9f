-- title: Incidents per sector and hour
-- question: How many incidents started in each sector, hour by hour, and of which category?
-- reads: incidents_per_hour (rollup kept by a materialised view; incidents as first reported)
SELECT
    hour,
    sector,
    sum(incidents) AS started,
    sumIf(incidents, severity >= 4) AS severe_started
FROM incidents_per_hour
GROUP BY hour, sector
ORDER BY hour, sector
