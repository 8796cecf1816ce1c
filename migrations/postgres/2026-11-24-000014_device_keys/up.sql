-- Officers' phones: an Ed25519 public key each, registered at enrolment. A device signs the
-- evidence it declares; the server verifies the signature when the upload completes.
CREATE TABLE device_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX device_keys_user ON device_keys (user_id);

-- No REFERENCES: SQLite cannot drop a column that has one (the down migration).
ALTER TABLE evidence ADD COLUMN device_id TEXT;
ALTER TABLE evidence ADD COLUMN device_signature TEXT;
ALTER TABLE evidence ADD COLUMN signature_verified BOOLEAN;
