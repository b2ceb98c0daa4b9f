-- title: Transport lines most affected
-- question: Which bus, tram and metro lines are hit by incidents most often, where and by what?
-- reads: incidents_latest
SELECT
    arrayJoin(affected_lines) AS line,
    count() AS incidents,
    uniqExact(sector) AS sectors,
    arraySort(groupUniqArray(category)) AS categories
FROM incidents_latest
GROUP BY line
ORDER BY incidents DESC, line
