-- +goose Up
-- See the SQLite migration 00011: keys, blind indexes, record signatures
-- and the audit log's hash chain (issue 15).

-- +goose StatementBegin
CREATE TABLE vault_key (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    master TEXT NOT NULL,
    created_at TEXT NOT NULL
);
ALTER TABLE patient ADD COLUMN phone_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN id_number_bidx TEXT NOT NULL DEFAULT '';
CREATE INDEX patient_phone_bidx ON patient (institution_id, phone_bidx);
CREATE INDEX patient_id_number_bidx ON patient (institution_id, id_number_bidx);
CREATE TABLE signing_key (
    owner TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    wrapped BYTEA NOT NULL,
    master TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE record_signature (
    record_id BIGINT NOT NULL REFERENCES treatment_record(id),
    n BIGINT NOT NULL,
    signer_id BIGINT NOT NULL,
    signed_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature BYTEA NOT NULL,
    key_owner TEXT NOT NULL,
    PRIMARY KEY (record_id, n)
);
CREATE TABLE audit_chain (
    n BIGINT PRIMARY KEY,
    audit_id BIGINT NOT NULL UNIQUE,
    hash TEXT NOT NULL
);
CREATE TABLE audit_anchor (
    n BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    at TEXT NOT NULL,
    signature BYTEA NOT NULL
);
CREATE TABLE audit_pending (audit_id BIGINT PRIMARY KEY);
CREATE FUNCTION zhiliao_audit_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_pending (audit_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER audit_log_pending AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION zhiliao_audit_pending();
INSERT INTO audit_pending (audit_id) SELECT id FROM audit_log;
CREATE TRIGGER record_signature_append_only BEFORE UPDATE OR DELETE ON record_signature
    FOR EACH ROW EXECUTE FUNCTION zhiliao_append_only();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION zhiliao_append_only();
CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION zhiliao_append_only();
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_pending ON audit_log;
DROP FUNCTION zhiliao_audit_pending();
DROP TABLE audit_pending;
DROP TABLE audit_anchor;
DROP TABLE audit_chain;
DROP TABLE record_signature;
DROP TABLE signing_key;
ALTER TABLE patient DROP COLUMN id_number_bidx;
ALTER TABLE patient DROP COLUMN phone_bidx;
DROP TABLE vault_key;
