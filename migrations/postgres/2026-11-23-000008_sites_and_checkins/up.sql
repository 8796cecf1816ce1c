-- Borrowers' registered sites with their geofences, and officers' check-ins with the verdict on
-- each. Coordinates are kept as reported (with their datum) and in WGS-84.
CREATE TABLE borrower_sites (
    id TEXT PRIMARY KEY,
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    name TEXT NOT NULL,
    datum TEXT NOT NULL,
    -- JSON as captured: {"circle": {"center": {...}, "radius_m": ...}} or {"polygon": [...]}
    geometry TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX borrower_sites_borrower ON borrower_sites (borrower_id);

-- One row per check-in, keyed by the phone's UUID: a replay finds the row (and its stored
-- answer) instead of inserting twice.
CREATE TABLE checkins (
    id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks (id),
    borrower_id TEXT NOT NULL REFERENCES borrowers (id),
    officer_id TEXT NOT NULL REFERENCES users (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    latitude DOUBLE PRECISION NOT NULL,
    longitude DOUBLE PRECISION NOT NULL,
    datum TEXT NOT NULL,
    wgs84_latitude DOUBLE PRECISION NOT NULL,
    wgs84_longitude DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION NOT NULL,
    provider TEXT NOT NULL,
    mock_location BOOLEAN NOT NULL,
    device_time TIMESTAMP NOT NULL,
    fix_time TIMESTAMP NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    checked_in_at TIMESTAMP NOT NULL,
    site_id TEXT REFERENCES borrower_sites (id),
    distance_m DOUBLE PRECISION,
    -- JSON array of {"flag", "detail"}
    reasons TEXT NOT NULL,
    trusted BOOLEAN NOT NULL,
    checked_out_at TIMESTAMP,
    response TEXT NOT NULL
);
CREATE INDEX checkins_task ON checkins (task_id, checked_in_at);
CREATE INDEX checkins_officer ON checkins (officer_id, checked_in_at);
