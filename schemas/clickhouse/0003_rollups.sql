-- Hourly rollups kept by materialised views. They count distinct ids (uniqExact states)
-- rather than rows, so a replayed insert adds nothing: the rollups are idempotent like the
-- tables they summarise. Read them with uniqExactMerge, or through the views of 0004.

-- cluster: shard by rand()
CREATE TABLE IF NOT EXISTS {{db}}.events_hourly
(
    hour DateTime('UTC'),
    sector {{lc}},
    source {{lc}},
    kind {{lc}},
    events_state AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, sector, source, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.events_hourly_mv TO {{db}}.events_hourly
AS SELECT
    toStartOfHour(toDateTime(event_time, 'UTC')) AS hour,
    sector,
    source,
    kind,
    uniqExactState(event_id) AS events_state
FROM {{db}}.events
GROUP BY hour, sector, source, kind;

-- Incidents as first reported (version 1): sector, category and severity can change in later
-- versions; the exact current picture is a query on incidents_latest.
-- cluster: shard by rand()
CREATE TABLE IF NOT EXISTS {{db}}.incidents_hourly
(
    hour DateTime('UTC'),
    sector {{lc}},
    category {{lc}},
    severity UInt8,
    incidents_state AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, sector, category, severity);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.incidents_hourly_mv TO {{db}}.incidents_hourly
AS SELECT
    toStartOfHour(toDateTime(first_event_time, 'UTC')) AS hour,
    sector,
    category,
    severity,
    uniqExactState(incident_id) AS incidents_state
FROM {{db}}.incidents
WHERE version = 1
GROUP BY hour, sector, category, severity;
