-- +goose Up
-- The relay's checkpoint: the last outbox seq the warehouse warehouse_id holds.
-- One row: one core feeds one warehouse. pruned_through is the highest seq
-- ever pruned, so a new warehouse knows whether the outbox alone can fill it.
CREATE TABLE cdc_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    warehouse_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    pruned_through INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);

-- Outbox rows leave only once the relay has checkpointed them.
CREATE TRIGGER cdc_outbox_prune_checkpointed BEFORE DELETE ON cdc_outbox
WHEN OLD.seq > COALESCE((SELECT seq FROM cdc_checkpoint WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'append_only: cdc_outbox rows leave only after the relay checkpointed them'); END;

-- +goose Down
DROP TRIGGER cdc_outbox_prune_checkpointed;
DROP TABLE cdc_checkpoint;
