-- +goose Up
-- Data protection with national algorithms (issue 15, package vault).
-- The core's keys, each wrapped (SM4-GCM) by the master key outside the
-- database whose fingerprint it records.
CREATE TABLE vault_key (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    master TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Blind indexes (HMAC-SM3) of the sealed patient columns: exact lookups
-- without decrypting.
ALTER TABLE patient ADD COLUMN phone_bidx TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN id_number_bidx TEXT NOT NULL DEFAULT '';
CREATE INDEX patient_phone_bidx ON patient (institution_id, phone_bidx);
CREATE INDEX patient_id_number_bidx ON patient (institution_id, id_number_bidx);
-- SM2 key pairs: one per clinician ("staff:<id>") and the service's, which
-- signs the audit chain's anchors ("service"). The private key is wrapped by
-- the master key.
CREATE TABLE signing_key (
    owner TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    master TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Every signature of a record (a re-signature after an amendment adds one):
-- the SM3 digest of the canonical content, signer and time, and its SM2
-- signature under the signer's key.
CREATE TABLE record_signature (
    record_id INTEGER NOT NULL REFERENCES treatment_record(id),
    n INTEGER NOT NULL,
    signer_id INTEGER NOT NULL,
    signed_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature BLOB NOT NULL,
    key_owner TEXT NOT NULL,
    PRIMARY KEY (record_id, n)
);
-- The audit log's hash chain: line n's hash is SM3 over the previous hash
-- and the line's canonical content, in the order the sealer met the lines
-- (commit order). Anchors record the chain's head, signed with the
-- service's SM2 key, so a cut tail or a rewritten chain shows.
CREATE TABLE audit_chain (
    n INTEGER PRIMARY KEY,
    audit_id INTEGER NOT NULL UNIQUE,
    hash TEXT NOT NULL
);
CREATE TABLE audit_anchor (
    n INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    at TEXT NOT NULL,
    signature BLOB NOT NULL
);
-- Lines not yet chained: a trigger notes each new line, the sealer takes
-- them in the order it finds them committed and removes them here. A row
-- deleted here by hand leaves its line outside the chain, which verify
-- reports.
CREATE TABLE audit_pending (audit_id INTEGER PRIMARY KEY);
CREATE TRIGGER audit_log_pending AFTER INSERT ON audit_log
BEGIN INSERT INTO audit_pending (audit_id) VALUES (NEW.id); END;
INSERT INTO audit_pending (audit_id) SELECT id FROM audit_log;
CREATE TRIGGER record_signature_no_update BEFORE UPDATE ON record_signature
BEGIN SELECT RAISE(ABORT, 'append_only: record_signature rows cannot change'); END;
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'append_only: audit_chain rows cannot change'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'append_only: audit_chain rows cannot be deleted'); END;
CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_anchor
BEGIN SELECT RAISE(ABORT, 'append_only: audit_anchor rows cannot change'); END;
CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
BEGIN SELECT RAISE(ABORT, 'append_only: audit_anchor rows cannot be deleted'); END;

-- +goose Down
DROP TRIGGER audit_log_pending;
DROP TABLE audit_pending;
DROP TABLE audit_anchor;
DROP TABLE audit_chain;
DROP TABLE record_signature;
DROP TABLE signing_key;
DROP INDEX patient_id_number_bidx;
DROP INDEX patient_phone_bidx;
ALTER TABLE patient DROP COLUMN id_number_bidx;
ALTER TABLE patient DROP COLUMN phone_bidx;
DROP TABLE vault_key;
