-- +goose Up
-- Password and session policy (issue 14): failed logins and the lockout
-- they cause, a password that must be changed after an administrator's
-- reset, and the last time a session was used (idle timeout).
ALTER TABLE user_account ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_account ADD COLUMN locked_until TEXT;
ALTER TABLE user_account ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_account ADD COLUMN password_changed_at TEXT;
ALTER TABLE auth_token ADD COLUMN last_seen_at TEXT;
CREATE INDEX audit_log_user ON audit_log (user_id, at);

-- +goose Down
DROP INDEX audit_log_user;
ALTER TABLE auth_token DROP COLUMN last_seen_at;
ALTER TABLE user_account DROP COLUMN password_changed_at;
ALTER TABLE user_account DROP COLUMN must_change_password;
ALTER TABLE user_account DROP COLUMN locked_until;
ALTER TABLE user_account DROP COLUMN failed_logins;
