-- title: Severe incidents nobody acknowledged
-- question: Which severe incidents (severity 4 or 5) have no operator action at all?
-- reads: incident_status (latest version and latest operator action of each incident)
SELECT incident_id, category, sector, severity, status, created_at
FROM incident_status
WHERE severity >= 4 AND acks = 0
ORDER BY created_at, incident_id
