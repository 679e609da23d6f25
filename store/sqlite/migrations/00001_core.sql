-- +goose Up
-- The lifecycle core: one table per entity of model, the status history, the
-- CDC outbox and HIS message idempotency. Column names equal the json tags of
-- the model structs (a test keeps them equal).

CREATE TABLE institution (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    UNIQUE (code)
);

CREATE TABLE department (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    UNIQUE (institution_id, code)
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 0,
    UNIQUE (institution_id, code)
);

CREATE TABLE room (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    beds INTEGER NOT NULL DEFAULT 0,
    UNIQUE (institution_id, code)
);

CREATE TABLE project (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    unit_price_fen INTEGER NOT NULL DEFAULT 0,
    minutes INTEGER NOT NULL DEFAULT 0,
    course_sessions INTEGER NOT NULL DEFAULT 0,
    needs_consent INTEGER NOT NULL DEFAULT 0,
    needs_images INTEGER NOT NULL DEFAULT 0,
    emr_scope INTEGER NOT NULL DEFAULT 0,
    smart_scope INTEGER NOT NULL DEFAULT 0,
    followup_days TEXT NOT NULL DEFAULT '',
    assessment_template TEXT NOT NULL DEFAULT '',
    consent_template TEXT NOT NULL DEFAULT '',
    precautions TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 0,
    UNIQUE (institution_id, code),
    CONSTRAINT price CHECK (unit_price_fen >= 0 AND minutes > 0 AND course_sessions > 0)
);

CREATE TABLE patient (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    mrn TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    gender TEXT NOT NULL DEFAULT '',
    birth_date TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    id_number TEXT NOT NULL DEFAULT '',
    no_show_count INTEGER NOT NULL DEFAULT 0,
    blacklisted_until TEXT,
    UNIQUE (institution_id, mrn)
);

CREATE TABLE his_order (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    order_no TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    project_code TEXT NOT NULL DEFAULT '',
    project_name TEXT NOT NULL DEFAULT '',
    quantity INTEGER NOT NULL DEFAULT 0,
    used_quantity INTEGER NOT NULL DEFAULT 0,
    unit_price_fen INTEGER NOT NULL DEFAULT 0,
    amount_fen INTEGER NOT NULL DEFAULT 0,
    refund_fen INTEGER NOT NULL DEFAULT 0,
    visit_type TEXT NOT NULL DEFAULT '',
    diagnosis_code TEXT NOT NULL DEFAULT '',
    diagnosis_name TEXT NOT NULL DEFAULT '',
    ordered_by TEXT NOT NULL DEFAULT '',
    ordered_at TEXT NOT NULL,
    paid_at TEXT,
    refunded_at TEXT,
    application_id INTEGER REFERENCES application(id),
    his_message_id TEXT NOT NULL DEFAULT '',
    UNIQUE (institution_id, order_no),
    CONSTRAINT quantity CHECK (quantity > 0 AND used_quantity BETWEEN 0 AND quantity),
    CONSTRAINT amount CHECK (amount_fen >= 0 AND refund_fen BETWEEN 0 AND amount_fen)
);

CREATE TABLE application (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    visit_type TEXT NOT NULL DEFAULT '',
    diagnosis_code TEXT NOT NULL DEFAULT '',
    sessions INTEGER NOT NULL DEFAULT 0,
    applied_by INTEGER NOT NULL DEFAULT 0,
    applied_at TEXT NOT NULL,
    assessed_at TEXT,
    planned_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);

CREATE TABLE assessment (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    application_id INTEGER NOT NULL DEFAULT 0 REFERENCES application(id),
    course_id INTEGER REFERENCES course(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    kind TEXT NOT NULL DEFAULT '',
    template TEXT NOT NULL DEFAULT '',
    answers TEXT NOT NULL DEFAULT '',
    score INTEGER NOT NULL DEFAULT 0,
    assessor_id INTEGER NOT NULL DEFAULT 0 REFERENCES staff(id),
    assessed_at TEXT NOT NULL,
    signed_at TEXT
);

CREATE TABLE course (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    application_id INTEGER NOT NULL DEFAULT 0 REFERENCES application(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    planned_sessions INTEGER NOT NULL DEFAULT 0,
    done_sessions INTEGER NOT NULL DEFAULT 0,
    planned_by INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    archived_at TEXT,
    CONSTRAINT sessions CHECK (done_sessions BETWEEN 0 AND planned_sessions)
);

CREATE TABLE roster (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    staff_id INTEGER NOT NULL DEFAULT 0 REFERENCES staff(id),
    room_id INTEGER NOT NULL DEFAULT 0 REFERENCES room(id),
    project_id INTEGER REFERENCES project(id),
    day TEXT NOT NULL DEFAULT '',
    shift TEXT NOT NULL DEFAULT ''
);

CREATE TABLE slot (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    roster_id INTEGER NOT NULL DEFAULT 0 REFERENCES roster(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    staff_id INTEGER NOT NULL DEFAULT 0 REFERENCES staff(id),
    room_id INTEGER NOT NULL DEFAULT 0 REFERENCES room(id),
    project_id INTEGER REFERENCES project(id),
    day TEXT NOT NULL DEFAULT '',
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    capacity INTEGER NOT NULL DEFAULT 0,
    booked INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT capacity CHECK (booked BETWEEN 0 AND capacity),
    CONSTRAINT slot_time CHECK (end_at > start_at)
);

CREATE TABLE appointment (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    slot_id INTEGER NOT NULL DEFAULT 0 REFERENCES slot(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    channel TEXT NOT NULL DEFAULT '',
    receipt_no TEXT NOT NULL DEFAULT '',
    planned_at TEXT NOT NULL,
    booked_at TEXT NOT NULL,
    checked_in_at TEXT,
    cancelled_at TEXT,
    cancel_reason TEXT NOT NULL DEFAULT ''
);

CREATE TABLE queue_ticket (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    appointment_id INTEGER REFERENCES appointment(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    day TEXT NOT NULL DEFAULT '',
    number INTEGER NOT NULL DEFAULT 0,
    walk_in INTEGER NOT NULL DEFAULT 0,
    checked_in_at TEXT NOT NULL,
    called_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    UNIQUE (appointment_id),
    UNIQUE (institution_id, dept_id, day, number)
);

CREATE TABLE payment_check (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    order_id INTEGER NOT NULL DEFAULT 0 REFERENCES his_order(id),
    order_no TEXT NOT NULL DEFAULT '',
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    result TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    checked_at TEXT NOT NULL
);

CREATE TABLE image (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    session_id INTEGER NOT NULL DEFAULT 0 REFERENCES treatment_session(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    phase TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    taken_by INTEGER NOT NULL DEFAULT 0,
    taken_at TEXT NOT NULL
);

CREATE TABLE consent (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    template_version TEXT NOT NULL DEFAULT '',
    signer_name TEXT NOT NULL DEFAULT '',
    signer_relation TEXT NOT NULL DEFAULT '',
    signature_path TEXT NOT NULL DEFAULT '',
    signature_sha256 TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    witness_id INTEGER NOT NULL DEFAULT 0,
    signed_at TEXT,
    revoked_at TEXT
);

CREATE TABLE treatment_session (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    appointment_id INTEGER REFERENCES appointment(id),
    ticket_id INTEGER REFERENCES queue_ticket(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    order_id INTEGER NOT NULL DEFAULT 0 REFERENCES his_order(id),
    seq_no INTEGER NOT NULL DEFAULT 0,
    performer_id INTEGER NOT NULL DEFAULT 0 REFERENCES staff(id),
    room_id INTEGER NOT NULL DEFAULT 0 REFERENCES room(id),
    visit_type TEXT NOT NULL DEFAULT '',
    payment_check_id INTEGER NOT NULL DEFAULT 0 REFERENCES payment_check(id),
    consent_id INTEGER REFERENCES consent(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    units INTEGER NOT NULL DEFAULT 0,
    charge_fen INTEGER NOT NULL DEFAULT 0,
    charge_confirmed INTEGER NOT NULL DEFAULT 0,
    adverse_reaction TEXT NOT NULL DEFAULT '',
    abort_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (ticket_id),
    UNIQUE (course_id, seq_no)
);

CREATE TABLE treatment_record (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    session_id INTEGER NOT NULL DEFAULT 0 REFERENCES treatment_session(id),
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    project_code TEXT NOT NULL DEFAULT '',
    project_name TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    author_id INTEGER NOT NULL DEFAULT 0 REFERENCES staff(id),
    treated_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    signer_id INTEGER REFERENCES staff(id),
    signed_at TEXT,
    sign_hash TEXT NOT NULL DEFAULT '',
    signatures INTEGER NOT NULL DEFAULT 0,
    archived_at TEXT,
    UNIQUE (session_id, kind)
);

CREATE TABLE followup (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    day_offset INTEGER NOT NULL DEFAULT 0,
    due_date TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '',
    done_at TEXT,
    done_by INTEGER NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '',
    UNIQUE (course_id, day_offset)
);

CREATE TABLE survey (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    course_id INTEGER NOT NULL DEFAULT 0 REFERENCES course(id),
    followup_id INTEGER REFERENCES followup(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    project_id INTEGER NOT NULL DEFAULT 0 REFERENCES project(id),
    channel TEXT NOT NULL DEFAULT '',
    sent_at TEXT NOT NULL,
    answered_at TEXT,
    scores TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT ''
);

CREATE TABLE complaint (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    dept_id INTEGER NOT NULL DEFAULT 0 REFERENCES department(id),
    course_id INTEGER REFERENCES course(id),
    category TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    replied_at TEXT,
    replied_by INTEGER NOT NULL DEFAULT 0,
    reply TEXT NOT NULL DEFAULT ''
);

CREATE TABLE notification (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL DEFAULT 0 REFERENCES institution(id),
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    patient_id INTEGER NOT NULL DEFAULT 0 REFERENCES patient(id),
    kind TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '',
    critical INTEGER NOT NULL DEFAULT 0,
    ref_entity TEXT NOT NULL DEFAULT '',
    ref_id INTEGER NOT NULL DEFAULT 0,
    content TEXT NOT NULL DEFAULT '',
    queued_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);

CREATE INDEX his_order_patient ON his_order (patient_id, status);
CREATE INDEX his_order_application ON his_order (application_id);
CREATE INDEX application_patient ON application (patient_id);
CREATE INDEX assessment_application ON assessment (application_id);
CREATE INDEX course_patient ON course (patient_id, status);
CREATE INDEX course_application ON course (application_id);
CREATE INDEX roster_day ON roster (staff_id, day, shift);
CREATE INDEX slot_day ON slot (dept_id, day, start_at);
CREATE INDEX slot_roster ON slot (roster_id);
CREATE INDEX appointment_slot ON appointment (slot_id, status);
CREATE INDEX appointment_course ON appointment (course_id, status);
CREATE INDEX appointment_day ON appointment (institution_id, planned_at);
CREATE INDEX appointment_patient ON appointment (patient_id, status);
CREATE INDEX queue_ticket_course ON queue_ticket (course_id, status);
CREATE INDEX consent_course ON consent (course_id, status);
CREATE INDEX image_session ON image (session_id);
CREATE INDEX treatment_session_course ON treatment_session (course_id, status);
CREATE INDEX treatment_session_order ON treatment_session (order_id, status);
CREATE INDEX treatment_record_course ON treatment_record (course_id, status);
CREATE INDEX followup_due ON followup (institution_id, due_date, status);
CREATE INDEX survey_course ON survey (course_id);
CREATE INDEX complaint_dept ON complaint (institution_id, dept_id, status);
CREATE INDEX notification_status ON notification (status, queued_at);
CREATE INDEX notification_ref ON notification (ref_entity, ref_id, kind);
CREATE INDEX payment_check_order ON payment_check (order_id);

-- Append-only status history of every stateful entity: the audit trail and the
-- source of turnaround metrics.
CREATE TABLE status_history (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    at TEXT NOT NULL,
    actor_id INTEGER NOT NULL DEFAULT 0,
    actor_role TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    tx_id INTEGER NOT NULL
);
CREATE INDEX status_history_entity ON status_history (entity, entity_id);
CREATE TRIGGER status_history_no_update BEFORE UPDATE ON status_history
BEGIN SELECT RAISE(ABORT, 'append_only: status_history rows cannot change'); END;
CREATE TRIGGER status_history_no_delete BEFORE DELETE ON status_history
BEGIN SELECT RAISE(ABORT, 'append_only: status_history rows cannot be deleted'); END;

-- The CDC outbox, written in the same transaction as the change it describes.
-- AUTOINCREMENT keeps seq monotonic even after the relay prunes old rows.
CREATE TABLE cdc_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('c', 'u', 'd')),
    version INTEGER NOT NULL CHECK (version > 0),
    occurred_at TEXT NOT NULL,
    tx_id INTEGER NOT NULL,
    institution_id INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TRIGGER cdc_outbox_no_update BEFORE UPDATE ON cdc_outbox
BEGIN SELECT RAISE(ABORT, 'append_only: cdc_outbox rows cannot change'); END;

-- Archived records are locked: the services refuse first, the database backs them.
CREATE TRIGGER treatment_record_archived BEFORE UPDATE ON treatment_record
WHEN OLD.status = 'archived'
BEGIN SELECT RAISE(ABORT, 'record_archived_immutable'); END;

-- Idempotent HIS intake: one row per applied (order_no, message_id).
CREATE TABLE his_message (
    institution_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    order_no TEXT NOT NULL,
    action TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (institution_id, order_no, message_id)
);

-- Login accounts. Not a lifecycle entity: never shipped to the warehouse
-- (it holds password hashes), so it has no outbox events.
CREATE TABLE user_account (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    dept_id INTEGER REFERENCES department(id),
    staff_id INTEGER REFERENCES staff(id),
    patient_id INTEGER REFERENCES patient(id),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- Opaque login tokens, stored as sha256 hashes: a stolen database yields no
-- usable token.
-- A token belongs to a user account or, for a patient link, to a patient.
CREATE TABLE auth_token (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER REFERENCES user_account(id),
    patient_id INTEGER REFERENCES patient(id),
    institution_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((user_id IS NULL) != (patient_id IS NULL))
);
CREATE INDEX auth_token_user ON auth_token (user_id);

-- Audit log of every write and every read of patient-identifying data.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    institution_id INTEGER NOT NULL DEFAULT 0,
    user_id INTEGER NOT NULL DEFAULT 0,
    username TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    route TEXT NOT NULL DEFAULT '',
    entity TEXT NOT NULL DEFAULT '',
    entity_id TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    request_id TEXT NOT NULL DEFAULT '',
    remote TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (institution_id, at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'append_only: audit_log rows cannot change'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'append_only: audit_log rows cannot be deleted'); END;
