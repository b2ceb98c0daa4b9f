-- Incidents: every version fusion emits is a row; ReplacingMergeTree(version) keeps the
-- latest per incident_id once parts merge, so read with FINAL or argMax (the views in 0004
-- do it for analysts). Partitioned by the month of created_at, which never changes between
-- versions, so all versions of an incident share a partition and FINAL can collapse them.
-- data_class is 'camera' while an incident's only sources are cameras, 'incident' once an
-- agency corroborates it: camera-only incidents expire with the camera data.

-- cluster: shard by cityHash64(incident_id)
CREATE TABLE IF NOT EXISTS {{db}}.incidents
(
    incident_id String,
    version UInt32,
    status {{lc}},
    category {{lc}},
    severity UInt8,
    confidence Float64,
    first_event_time {{ts}},
    last_event_time {{ts}},
    created_at {{ts}},
    updated_at {{ts}},
    lon Float64,
    lat Float64,
    sector {{lc}},
    sources Array(String),
    kinds Array(String),
    event_ids Array(String),
    link_count UInt32,
    weather_alerts Array(String),
    weather_observation String,
    permits Array(String),
    affected_lines Array(String),
    merged_into String,
    explanation String,
    data_class {{lc}}
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY incident_id;

-- Why two events share an incident: the rule, their distance and time gap. Every version
-- rewrites its links, so the latest version of a link is the incident's current one; the
-- pair is stored in a fixed order (event_a < event_b) so it is one key whatever the order
-- fusion reported it in.
-- cluster: shard by cityHash64(incident_id)
CREATE TABLE IF NOT EXISTS {{db}}.incident_links
(
    incident_id String,
    version UInt32,
    event_a String,
    event_b String,
    rule {{lc}},
    distance_m Float64,
    time_gap_ms Int64,
    created_at {{ts}},
    data_class {{lc}}
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (incident_id, event_a, event_b);

-- Operator actions from the command center (ack, assign, release). ack_id is chosen by the
-- client, so a replayed action is one row. Who did it (operator, assignee, note) is personal
-- and lives in {{private_db}}.ack_people.
-- cluster: shard by cityHash64(incident_id)
CREATE TABLE IF NOT EXISTS {{db}}.incident_acks
(
    ack_id String,
    incident_id String,
    action {{lc}},
    at {{ts}}
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (incident_id, at, ack_id);

-- cluster: shard by cityHash64(incident_id)
CREATE TABLE IF NOT EXISTS {{private_db}}.ack_people
(
    ack_id String,
    incident_id String,
    at {{ts}},
    operator String,
    assignee String,
    note String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (incident_id, at, ack_id);
