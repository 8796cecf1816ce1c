-- Checklist templates, versioned (a new version never changes answers given under an old one),
-- and the inspection of a task: its template version, answers, evidence counts and sign-off.
CREATE TABLE checklist_templates (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE inspections (
    task_id TEXT PRIMARY KEY REFERENCES tasks (id),
    template_code TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    answers TEXT NOT NULL,
    evidence TEXT NOT NULL,
    checked_in BOOLEAN NOT NULL,
    signed_by TEXT,
    signed_at TIMESTAMP,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
