-- The smoke pipeline's table (vigie/smoke.py creates it with the same statement): declared
-- here so that every table in the database belongs to a migration.

-- cluster: shard by cityHash64(run_id, reading_id)
CREATE TABLE IF NOT EXISTS {{db}}.smoke_readings
(
    run_id String,
    reading_id Int64,
    sensor String,
    at DateTime,
    value Float64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (run_id, reading_id);
