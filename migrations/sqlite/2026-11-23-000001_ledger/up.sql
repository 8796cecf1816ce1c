-- The ledger foundation: organisations, people, auth, borrowers, loans, events, audit chain,
-- idempotency. Portable types only (text, bigint, integer, boolean, date, timestamp) so that
-- one diesel schema serves PostgreSQL and SQLite. Timestamps are UTC.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES organisations (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX organisations_path ON organisations (path);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    password_changed_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    access TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE borrower_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lead_organisation_id TEXT NOT NULL REFERENCES organisations (id),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE borrowers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    credit_code TEXT UNIQUE,
    id_number TEXT UNIQUE,
    phone TEXT,
    registered_capital_fen BIGINT,
    currency TEXT NOT NULL,
    registered_address TEXT,
    legal_representative TEXT,
    industry TEXT,
    business_scope TEXT,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    officer_id TEXT NOT NULL REFERENCES users (id),
    group_id TEXT REFERENCES borrower_groups (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX borrowers_organisation ON borrowers (organisation_id);
CREATE INDEX borrowers_officer ON borrowers (officer_id);
CREATE INDEX borrowers_name ON borrowers (name, id);

CREATE TABLE guarantors (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    credit_code TEXT,
    id_number TEXT,
    phone TEXT,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX guarantors_organisation ON guarantors (organisation_id);

CREATE TABLE collateral (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    owner_name TEXT NOT NULL,
    security_type TEXT NOT NULL,
    asset_type TEXT NOT NULL,
    description TEXT NOT NULL,
    appraised_value_fen BIGINT NOT NULL,
    currency TEXT NOT NULL,
    registration_no TEXT,
    insurance_expiry DATE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX collateral_borrower ON collateral (borrower_id);

CREATE TABLE loans (
    id TEXT PRIMARY KEY,
    contract_no TEXT NOT NULL UNIQUE,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    product TEXT NOT NULL,
    principal_fen BIGINT NOT NULL,
    currency TEXT NOT NULL,
    annual_rate TEXT NOT NULL,
    repayment_method TEXT NOT NULL,
    guarantee_method TEXT NOT NULL,
    purpose TEXT NOT NULL,
    counterparty TEXT,
    disbursement_date DATE NOT NULL,
    maturity_date DATE NOT NULL,
    class TEXT NOT NULL,
    management_mode TEXT NOT NULL,
    status TEXT NOT NULL,
    officer_id TEXT NOT NULL REFERENCES users (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX loans_borrower ON loans (borrower_id);
CREATE INDEX loans_organisation ON loans (organisation_id, id);
CREATE INDEX loans_officer ON loans (officer_id, id);
CREATE INDEX loans_maturity ON loans (maturity_date, id);
CREATE INDEX loans_principal ON loans (principal_fen, id);

CREATE TABLE loan_guarantors (
    loan_id TEXT NOT NULL REFERENCES loans (id),
    guarantor_id TEXT NOT NULL REFERENCES guarantors (id),
    amount_fen BIGINT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (loan_id, guarantor_id)
);

CREATE TABLE loan_collateral (
    loan_id TEXT NOT NULL REFERENCES loans (id),
    collateral_id TEXT NOT NULL REFERENCES collateral (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (loan_id, collateral_id)
);

CREATE TABLE loan_events (
    id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL REFERENCES loans (id),
    kind TEXT NOT NULL,
    business_date DATE NOT NULL,
    amount_fen BIGINT,
    currency TEXT,
    payload TEXT NOT NULL,
    note TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX loan_events_loan ON loan_events (loan_id, business_date, id);

-- The audit chain. audit_head holds the last sequence number and hash; every write transaction
-- locks it first, which orders writers and keeps the chain linear.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);

CREATE TABLE idempotency_keys (
    actor TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor, key)
);
