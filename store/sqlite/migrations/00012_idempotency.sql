-- +goose Up
-- Idempotency keys of write requests (issue 19: a form resubmitted after a
-- lost response writes nothing twice). The claim is inserted in the same
-- transaction as the write; status and body are the response, recorded
-- right after it (NULL: the write committed and the response was lost).
CREATE TABLE idempotency_key (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    route TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);

-- +goose Down
DROP TABLE idempotency_key;
