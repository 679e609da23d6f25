-- +goose Up
-- Every attempt of a channel adapter to deliver a notice (issue 19): the
-- delivery log the front desk reads when a patient says no message came.
-- A notice that failed its last allowed attempt is 'dead' (a dead letter).
CREATE TABLE notification_delivery (
    id INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notification(id),
    attempt INTEGER NOT NULL,
    channel TEXT NOT NULL,
    at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notification_delivery_notice ON notification_delivery (notification_id, attempt);

-- +goose Down
DROP TABLE notification_delivery;
