-- What else early warning watches besides money (RULEBOOK §6): financial statements, external
-- signals and class changes; and each borrower's latest health check (体检).

-- One period's statements of a borrower, fen. A restatement replaces the figures.
CREATE TABLE statements (
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    period TEXT NOT NULL,
    current_assets BIGINT NOT NULL,
    inventory BIGINT NOT NULL,
    total_assets BIGINT NOT NULL,
    current_liabilities BIGINT NOT NULL,
    total_liabilities BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    net_profit BIGINT NOT NULL,
    profit_before_tax BIGINT NOT NULL,
    interest_expense BIGINT NOT NULL,
    operating_cash_flow BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (borrower_id, period)
);

-- A fact the data provider reported, once, under its id; `content_hash` tells a replay from a
-- different fact under the same id.
CREATE TABLE signals (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    kind TEXT NOT NULL,
    occurred_on DATE NOT NULL,
    amount_fen BIGINT,
    detail TEXT,
    content_hash TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX signals_borrower ON signals (borrower_id, occurred_on);

-- Every change of a loan's five-level class: special mention falling to substandard recommends
-- early recovery.
CREATE TABLE loan_class_changes (
    id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL REFERENCES loans (id),
    from_class TEXT NOT NULL,
    to_class TEXT NOT NULL,
    changed_on DATE NOT NULL,
    changed_by TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX loan_class_changes_loan ON loan_class_changes (loan_id, at);

-- The latest health check of each borrower: score, grade and every rule's outcome (JSON).
CREATE TABLE borrower_health (
    borrower_id TEXT PRIMARY KEY REFERENCES borrowers (id),
    as_of DATE NOT NULL,
    score INTEGER NOT NULL,
    grade TEXT NOT NULL,
    worst_tier TEXT,
    rule_version INTEGER NOT NULL,
    checks TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL
);
