-- +goose Up
-- A patient's opt-outs of a level of notices (smart-service rating, level 4;
-- issue 19). Important notices (critical: booking confirmations, 停诊) have
-- no row here: they cannot be opted out of. No row: the patient receives it.
CREATE TABLE notice_preference (
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    level TEXT NOT NULL,
    opted_out_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, level)
);

-- +goose Down
DROP TABLE notice_preference;
