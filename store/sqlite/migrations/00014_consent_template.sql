-- +goose Up
-- Consent texts per project, versioned (issue 29): a consent names the
-- revision it was shown and the SM3 digest of that exact text.
CREATE TABLE consent_template (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    revision INTEGER NOT NULL DEFAULT 0,
    title TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    text_sm3 TEXT NOT NULL DEFAULT '',
    edited_by INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (project_id, revision),
    CONSTRAINT revision CHECK (revision > 0)
);
ALTER TABLE consent ADD COLUMN template_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE consent ADD COLUMN text_sm3 TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE consent DROP COLUMN text_sm3;
ALTER TABLE consent DROP COLUMN template_id;
DROP TABLE consent_template;
