-- +goose Up
-- See the SQLite migration 00012: idempotency keys of write requests.
CREATE TABLE idempotency_key (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    route TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status INTEGER,
    body BYTEA,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);

-- +goose Down
DROP TABLE idempotency_key;
