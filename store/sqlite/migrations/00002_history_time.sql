-- +goose Up
-- Turnaround metrics read the status history by time.
CREATE INDEX status_history_at ON status_history (institution_id, at);

-- +goose Down
DROP INDEX status_history_at;
