-- +goose Up
-- The patient's phone page polls its own place in today's queues (issue 19):
-- find a patient's tickets of a day without scanning the whole queue history.
CREATE INDEX queue_ticket_patient_day ON queue_ticket (patient_id, day);

-- +goose Down
DROP INDEX queue_ticket_patient_day;
