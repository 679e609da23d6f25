-- Landing layer of the CDC relay on ClickHouse (18.16 and later). Raw tables
-- per entity are generated from the model (see EnsureRaw). ClickHouse has no
-- transactions: a repeated delivery inserts duplicates that ReplacingMergeTree
-- collapses on merge, and readers deduplicate (FINAL, or the views).
CREATE TABLE IF NOT EXISTS warehouse_meta (key String, value String, at DateTime) ENGINE = ReplacingMergeTree(at) ORDER BY key;

CREATE TABLE IF NOT EXISTS cdc_events (
    seq Int64,
    entity String,
    entity_id Int64,
    op String,
    version Int64,
    occurred_at DateTime,
    tx_id Int64,
    institution_id Int64,
    payload String
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(occurred_at) ORDER BY seq;

-- Written last for each batch: a row here means every row of the batch landed.
CREATE TABLE IF NOT EXISTS cdc_batches (
    first_seq Int64,
    last_seq Int64,
    events Int64,
    dead_letters Int64,
    landed_at DateTime
) ENGINE = MergeTree() ORDER BY last_seq;

CREATE TABLE IF NOT EXISTS cdc_dead_letters (
    seq Int64,
    entity String,
    entity_id Int64,
    op String,
    version Int64,
    occurred_at DateTime,
    tx_id Int64,
    institution_id Int64,
    payload String,
    reason String,
    failed_at DateTime
) ENGINE = ReplacingMergeTree() ORDER BY seq;

CREATE TABLE IF NOT EXISTS cdc_dead_letter_replays (seq Int64, replayed_at DateTime) ENGINE = MergeTree() ORDER BY seq;
