-- Normalised events, one row per event_id (a replay writes the same row again and the
-- ReplacingMergeTree keeps one). Personal fields never land here: attributes whose key is a
-- pseudonym (caller names, phones, plates) go to {{private_db}}.event_personal, which the
-- analyst user cannot read.
-- data_class is 'camera' for camera-derived rows, 'event' for the rest: retention drops
-- whole day partitions per class (camera data: 30 days at most).
-- Placeholders: {{ts}} is DateTime64(3, 'UTC') on current servers, DateTime('UTC') on 18.16;
-- {{lc}} is LowCardinality(String) where supported, String otherwise.

-- cluster: shard by cityHash64(event_id)
CREATE TABLE IF NOT EXISTS {{db}}.events
(
    event_id String,
    source {{lc}},
    kind {{lc}},
    role {{lc}},
    data_class {{lc}},
    event_time {{ts}},
    ingest_time {{ts}},
    lon Float64,
    lat Float64,
    x Float64,
    y Float64,
    uncertainty_m Float64,
    sector {{lc}},
    source_ref String,
    attr_keys Array(String),
    attr_values Array(String),
    area_wkt String,
    valid_from Nullable({{ts}}),
    valid_until Nullable({{ts}})
)
ENGINE = ReplacingMergeTree()
PARTITION BY (data_class, toYYYYMMDD(event_time))
ORDER BY (source, event_time, event_id);

-- cluster: shard by cityHash64(event_id)
CREATE TABLE IF NOT EXISTS {{private_db}}.event_personal
(
    event_id String,
    source {{lc}},
    data_class {{lc}},
    event_time {{ts}},
    keys Array(String),
    values Array(String)
)
ENGINE = ReplacingMergeTree()
PARTITION BY (data_class, toYYYYMMDD(event_time))
ORDER BY (source, event_time, event_id);
