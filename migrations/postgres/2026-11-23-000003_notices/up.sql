-- Statutory notices created by the daily job, one per (loan, kind, addressee, reference date),
-- and the record of job runs that lets one instance run each day's job and a crashed run resume.
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL REFERENCES loans (id),
    kind TEXT NOT NULL,
    addressee_kind TEXT NOT NULL,
    addressee_id TEXT NOT NULL,
    reference_date DATE NOT NULL,
    due_date DATE NOT NULL,
    amount_fen BIGINT,
    status TEXT NOT NULL,
    officer_id TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    acted_by TEXT,
    acted_at TIMESTAMP,
    note TEXT,
    UNIQUE (loan_id, kind, addressee_id, reference_date)
);
CREATE INDEX notices_officer ON notices (officer_id, due_date, id);
CREATE INDEX notices_organisation ON notices (organisation_id, due_date, id);

CREATE TABLE job_runs (
    name TEXT NOT NULL,
    run_date DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    detail TEXT,
    PRIMARY KEY (name, run_date)
);

-- Product settings (allocation order, penalty uplifts, overpayment), matched by a loan's
-- product; loans without a product row use the defaults.
CREATE TABLE products (
    code TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

-- From when proceeds were found diverted from the agreed purpose (挤占挪用).
ALTER TABLE loans ADD COLUMN diverted_from DATE;
