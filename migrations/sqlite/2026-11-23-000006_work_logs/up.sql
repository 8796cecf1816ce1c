-- Work log (工作日志): entries on a borrower (optionally a task), due within working days of the
-- activity, signed by a supervisor within working days of being written.
CREATE TABLE work_logs (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    task_id TEXT REFERENCES tasks (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    activity TEXT NOT NULL,
    activity_date DATE NOT NULL,
    content TEXT NOT NULL,
    due_date DATE NOT NULL,
    sign_due_date DATE NOT NULL,
    signed_by TEXT,
    signed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX work_logs_borrower ON work_logs (borrower_id, activity_date);
