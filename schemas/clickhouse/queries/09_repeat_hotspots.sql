-- title: Repeat hotspots
-- question: Which places (cells of about 550 x 400 m) see incidents again and again, on several days?
-- reads: incidents_latest
SELECT
    sector,
    round(lat * 200) / 200 AS cell_lat,
    round(lon * 200) / 200 AS cell_lon,
    count() AS incidents,
    uniqExact(toDate(first_event_time)) AS days,
    arraySort(groupUniqArray(category)) AS categories
FROM incidents_latest
GROUP BY sector, cell_lat, cell_lon
HAVING days >= 2
ORDER BY days DESC, incidents DESC, sector, cell_lat, cell_lon
LIMIT 20
