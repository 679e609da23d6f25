-- +goose Up
-- The day's close-out (issue 29, DESIGN §14): the project's rules for it,
-- the flag on a session left in progress overnight, and partial indexes so
-- that a pass reads only what is still open (the leader runs one a minute).
ALTER TABLE project ADD COLUMN no_show_grace_minutes INTEGER NOT NULL DEFAULT 30;
ALTER TABLE project ADD COLUMN self_cancel_cutoff_minutes INTEGER NOT NULL DEFAULT 120;
ALTER TABLE treatment_session ADD COLUMN flagged_at TEXT;
ALTER TABLE treatment_session ADD COLUMN flag_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX appointment_open_due ON appointment (planned_at) WHERE status = 'booked';
CREATE INDEX queue_ticket_open_day ON queue_ticket (day) WHERE status IN ('waiting', 'called');
CREATE INDEX treatment_session_open ON treatment_session (started_at) WHERE status = 'in_progress';

-- +goose Down
DROP INDEX treatment_session_open;
DROP INDEX queue_ticket_open_day;
DROP INDEX appointment_open_due;
ALTER TABLE treatment_session DROP COLUMN flag_reason;
ALTER TABLE treatment_session DROP COLUMN flagged_at;
ALTER TABLE project DROP COLUMN self_cancel_cutoff_minutes;
ALTER TABLE project DROP COLUMN no_show_grace_minutes;
