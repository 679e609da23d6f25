-- +goose Up
-- See the SQLite migration 00010: a patient's opt-outs of a level of notices.
CREATE TABLE notice_preference (
    patient_id BIGINT NOT NULL REFERENCES patient(id),
    level TEXT NOT NULL,
    opted_out_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, level)
);

-- +goose Down
DROP TABLE notice_preference;
