-- Landing layer of the CDC relay. Raw tables per entity are generated from
-- the model (see EnsureRaw); these are the hand-written ones.
CREATE TABLE warehouse_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);

-- The outbox envelope, one row per event; the relay keeps it unique on seq.
CREATE TABLE cdc_events (
    seq BIGINT NOT NULL,
    entity VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL,
    op VARCHAR NOT NULL,
    version BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    tx_id BIGINT NOT NULL,
    institution_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL
);

-- One row per landed batch; the last one says how far the warehouse is filled.
CREATE TABLE cdc_batches (
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    events BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL,
    landed_at TIMESTAMP NOT NULL
);

-- Events the warehouse could not take, with the reason; replays are noted
-- in their own append-only table.
CREATE TABLE cdc_dead_letters (
    seq BIGINT NOT NULL,
    entity VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL,
    op VARCHAR NOT NULL,
    version BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    tx_id BIGINT NOT NULL,
    institution_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE TABLE cdc_dead_letter_replays (seq BIGINT NOT NULL, replayed_at TIMESTAMP NOT NULL);
