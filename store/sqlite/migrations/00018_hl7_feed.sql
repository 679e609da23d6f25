-- +goose Up
-- HL7 v2 messages out to the HIS and the integration platform (issue 31):
-- per peer, where its reading of the outbox stands, and every message made
-- from a change with its delivery: queued, acked, or dead with the reason.
-- A message's control id is made from the change it tells, so the same
-- change is queued once per peer whatever happens.
CREATE TABLE feed_checkpoint (
    peer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE feed_message (
    id INTEGER PRIMARY KEY,
    peer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    institution_id INTEGER NOT NULL DEFAULT 0,
    patient_id INTEGER NOT NULL DEFAULT 0,
    type TEXT NOT NULL,
    control_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    ack_code TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    next_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (peer, control_id)
);
CREATE INDEX feed_message_queue ON feed_message (peer, status, id);

-- +goose Down
DROP TABLE feed_message;
DROP TABLE feed_checkpoint;
