-- Photos, videos and documents declared for a task's inspection, keyed by the phone's UUID;
-- the object holds the bytes, the row the declaration and the verification.
CREATE TABLE evidence (
    id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks (id),
    item_key TEXT NOT NULL,
    officer_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    captured_at TIMESTAMP NOT NULL,
    -- JSON of the capture metadata (position, datum, accuracy, device)
    capture TEXT NOT NULL,
    object_key TEXT NOT NULL,
    status TEXT NOT NULL,
    rejected_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX evidence_task ON evidence (task_id, created_at);
CREATE INDEX evidence_sha256 ON evidence (sha256);
