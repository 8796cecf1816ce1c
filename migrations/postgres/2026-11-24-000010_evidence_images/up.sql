-- What the server learns from a stored image (size, a thumbnail, a perceptual hash) and the
-- links between evidence found to reuse the same bytes or the same picture.
ALTER TABLE evidence ADD COLUMN width INTEGER;
ALTER TABLE evidence ADD COLUMN height INTEGER;
ALTER TABLE evidence ADD COLUMN phash BIGINT;
ALTER TABLE evidence ADD COLUMN thumbnail_key TEXT;

CREATE TABLE evidence_reuse (
    evidence_id TEXT NOT NULL REFERENCES evidence (id),
    other_id TEXT NOT NULL REFERENCES evidence (id),
    reason TEXT NOT NULL,
    distance INTEGER NOT NULL,
    found_at TIMESTAMP NOT NULL,
    PRIMARY KEY (evidence_id, other_id)
);
