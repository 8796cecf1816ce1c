-- Escalation of overdue tasks, staff notifications, and major incident reports
-- (重大突发事件报告) with their three levels of signature.
ALTER TABLE tasks ADD COLUMN escalated_at TIMESTAMP;

-- What a member of staff is told: one notification per (user, kind, subject), so a rerun of a
-- job tells nobody twice.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP,
    UNIQUE (user_id, kind, subject_id)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);

CREATE TABLE incident_reports (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    loan_id TEXT REFERENCES loans (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    learned_on DATE NOT NULL,
    due_date DATE NOT NULL,
    summary TEXT NOT NULL,
    measures TEXT NOT NULL,
    proposed_mode TEXT,
    status TEXT NOT NULL,
    -- JSON array of the loans the last signature moved to focused management.
    tightened_loans TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX incident_reports_borrower ON incident_reports (borrower_id, created_at);
CREATE INDEX incident_reports_organisation ON incident_reports (organisation_id, created_at, id);

-- One signature per level and one level per signer: the database stops a double signature.
CREATE TABLE incident_signatures (
    report_id TEXT NOT NULL REFERENCES incident_reports (id),
    level INTEGER NOT NULL,
    signer_id TEXT NOT NULL REFERENCES users (id),
    signer_role TEXT NOT NULL,
    comment TEXT,
    signed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (report_id, level),
    UNIQUE (report_id, signer_id)
);
