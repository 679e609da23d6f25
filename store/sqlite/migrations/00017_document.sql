-- +goose Up
-- The document registry (issue 31): every version of every WS/T 500 CDA
-- document made from a signed record or consent, with its content, digests
-- and the service's detached SM2 signature; and the sources that could not
-- become a document, with the field they lack.
CREATE TABLE document (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    dept_id INTEGER NOT NULL DEFAULT 0,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    kind TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc_uid TEXT NOT NULL UNIQUE,
    set_uid TEXT NOT NULL,
    replaces_id INTEGER REFERENCES document(id),
    effective_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    sm3 TEXT NOT NULL,
    content BLOB NOT NULL,
    signature BLOB,
    key_owner TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, source_id, version)
);
CREATE INDEX document_patient ON document (institution_id, patient_id, effective_at);
CREATE INDEX document_effective ON document (institution_id, effective_at);
CREATE INDEX document_replaces ON document (replaces_id) WHERE replaces_id IS NOT NULL;
CREATE TABLE document_failure (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    dept_id INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    field TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (kind, source_id, version)
);
-- The generator looks for sources signed since its last round.
CREATE INDEX treatment_record_signed ON treatment_record (signed_at) WHERE signed_at IS NOT NULL;
CREATE INDEX consent_signed ON consent (signed_at) WHERE signed_at IS NOT NULL;

-- +goose Down
DROP INDEX consent_signed;
DROP INDEX treatment_record_signed;
DROP TABLE document_failure;
DROP TABLE document;
