-- Views for analysts: the latest version of each incident, its current evidence, its latest
-- operator action, and the rollups already merged. They live in {{db}} beside the tables
-- (18.16 checks a view's underlying database against the user's allowed databases, so a
-- view cannot hide a column there: personal fields are kept in {{private_db}} instead).

-- cluster: view per shard
CREATE VIEW IF NOT EXISTS {{db}}.incidents_latest
AS SELECT * FROM {{db}}.incidents FINAL;

-- cluster: view per shard
CREATE VIEW IF NOT EXISTS {{db}}.incident_evidence
AS SELECT incident_id, version, event_a, event_b, rule, distance_m, time_gap_ms, created_at
FROM {{db}}.incident_links FINAL
WHERE (incident_id, version) IN (SELECT incident_id, version FROM {{db}}.incidents FINAL);

-- cluster: view per shard
CREATE VIEW IF NOT EXISTS {{db}}.incident_status
AS SELECT
    incident_id,
    status,
    category,
    severity,
    sector,
    created_at,
    updated_at,
    acks,
    last_action,
    last_action_at
FROM
(
    SELECT incident_id, status, category, severity, sector, created_at, updated_at
    FROM {{db}}.incidents FINAL
) AS latest
ANY LEFT JOIN
(
    SELECT
        incident_id,
        count() AS acks,
        argMax(action, at) AS last_action,
        max(at) AS last_action_at
    FROM {{db}}.incident_acks FINAL
    GROUP BY incident_id
) AS acted USING incident_id;

CREATE VIEW IF NOT EXISTS {{db}}.events_per_hour
AS SELECT hour, sector, source, kind, uniqExactMerge(events_state) AS events
FROM {{db}}.events_hourly
GROUP BY hour, sector, source, kind;

CREATE VIEW IF NOT EXISTS {{db}}.incidents_per_hour
AS SELECT hour, sector, category, severity, uniqExactMerge(incidents_state) AS incidents
FROM {{db}}.incidents_hourly
GROUP BY hour, sector, category, severity;
