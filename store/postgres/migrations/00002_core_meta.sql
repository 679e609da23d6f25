-- +goose Up
-- Facts about the core itself (issue 17); see the SQLite migration 00006.
CREATE TABLE core_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE core_meta;
