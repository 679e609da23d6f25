-- +goose Up
-- The waiting-room display's own link (issue 29): a revocable, read-only
-- token for one department's board, made by the desk or the manager, that
-- needs no staff session and so survives shifts. Only its hash is kept.
CREATE TABLE display_token (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    dept_id INTEGER NOT NULL REFERENCES department(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX display_token_dept ON display_token (institution_id, dept_id);

-- +goose Down
DROP TABLE display_token;
