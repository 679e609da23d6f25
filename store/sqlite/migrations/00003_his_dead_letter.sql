-- +goose Up
-- HL7 messages the intake could not apply (unreadable, or refused by a rule),
-- kept whole for an operator to fix the cause and replay them.
CREATE TABLE his_dead_letter (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    raw BLOB NOT NULL,
    ack_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    replayed_at TEXT,
    replay_result TEXT NOT NULL DEFAULT ''
);
CREATE INDEX his_dead_letter_pending ON his_dead_letter (replayed_at, id);

-- +goose Down
DROP TABLE his_dead_letter;
