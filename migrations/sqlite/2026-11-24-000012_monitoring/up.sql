-- Monitoring and early warning (贷后预警): who is on either side of a transfer, the transfers
-- themselves, versioned rule sets and the warnings they raise.

-- A party money moves between: a borrower of ours (borrower_id set), a related party, a supplier,
-- a developer… `id` is the data provider's key (credit code, ID number, customer number).
CREATE TABLE parties (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT,
    borrower_id TEXT UNIQUE REFERENCES borrowers (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The borrower's related parties: shareholders, legal representative, directors, finance head,
-- group members. Money reaching them counts as coming home.
CREATE TABLE party_relations (
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    party_id TEXT NOT NULL REFERENCES parties (id),
    relation TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (borrower_id, party_id, relation)
);
CREATE INDEX party_relations_party ON party_relations (party_id);

-- Accounts whose holder is known.
CREATE TABLE accounts (
    account_no TEXT PRIMARY KEY,
    party_id TEXT NOT NULL REFERENCES parties (id),
    bank TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX accounts_party ON accounts (party_id);

-- One movement of money, once, under the source system's id. The parties are resolved from the
-- accounts when it arrives (an unregistered counterparty account stands for itself as
-- `account:<no>`). `content_hash` tells a replay from a different transaction under the same id.
CREATE TABLE fund_transfers (
    id TEXT PRIMARY KEY,
    booked_at TIMESTAMP NOT NULL,
    from_account TEXT NOT NULL,
    to_account TEXT NOT NULL,
    from_party TEXT NOT NULL,
    to_party TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    loan_id TEXT REFERENCES loans (id),
    memo TEXT,
    content_hash TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX fund_transfers_loan ON fund_transfers (loan_id, booked_at);
CREATE INDEX fund_transfers_from ON fund_transfers (from_party, booked_at);
CREATE INDEX fund_transfers_to ON fund_transfers (to_party, booked_at);
CREATE INDEX fund_transfers_booked ON fund_transfers (booked_at, id);

-- Versions of the warning rules; a draft has no active_from.
CREATE TABLE rule_sets (
    version INTEGER PRIMARY KEY,
    definition TEXT NOT NULL,
    note TEXT,
    active_from DATE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    activated_by TEXT,
    activated_at TIMESTAMP
);

-- A warning, once per borrower, rule and period (calendar month of the fact).
CREATE TABLE warnings (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    loan_id TEXT REFERENCES loans (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    rule TEXT NOT NULL,
    tier TEXT NOT NULL,
    period TEXT NOT NULL,
    rule_version INTEGER NOT NULL,
    raised_on DATE NOT NULL,
    detail TEXT NOT NULL,
    -- JSON array of the facts behind it (transfer ids, statement periods, signal ids).
    facts TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT REFERENCES tasks (id),
    resolution TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (borrower_id, rule, period)
);
CREATE INDEX warnings_organisation ON warnings (organisation_id, created_at, id);

-- Each step of a warning's life.
CREATE TABLE warning_events (
    id TEXT PRIMARY KEY,
    warning_id TEXT NOT NULL REFERENCES warnings (id),
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    comment TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX warning_events_warning ON warning_events (warning_id, at);
