-- +goose Up
-- See the SQLite migration 00007: a patient's tickets of a day, by index.
CREATE INDEX queue_ticket_patient_day ON queue_ticket (patient_id, day);

-- +goose Down
DROP INDEX queue_ticket_patient_day;
