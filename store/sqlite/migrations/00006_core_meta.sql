-- +goose Up
-- Facts about the core itself (issue 17). namespace: the institution number
-- of a core that relays into a regional warehouse beside other hospitals'
-- cores; its entity ids and outbox seqs start at namespace << 40, so they
-- never meet another core's in the warehouse (see store/namespace.go).
CREATE TABLE core_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE core_meta;
