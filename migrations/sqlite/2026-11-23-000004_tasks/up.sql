-- Supervision tasks: one per (loan, kind, checkpoint) from the plan, or ad hoc; and their
-- append-only history of actions.
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL REFERENCES loans (id),
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    kind TEXT NOT NULL,
    checkpoint DATE NOT NULL,
    due_date DATE NOT NULL,
    status TEXT NOT NULL,
    assignee_id TEXT,
    review_levels INTEGER NOT NULL,
    approvals INTEGER NOT NULL,
    returns INTEGER NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (loan_id, kind, checkpoint)
);
CREATE INDEX tasks_assignee ON tasks (assignee_id, due_date, id);
CREATE INDEX tasks_organisation ON tasks (organisation_id, due_date, id);

CREATE TABLE task_events (
    id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks (id),
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    comment TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX task_events_task ON task_events (task_id, at, id);
