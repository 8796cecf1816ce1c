DROP TABLE evidence_reuse;
ALTER TABLE evidence DROP COLUMN thumbnail_key;
ALTER TABLE evidence DROP COLUMN phash;
ALTER TABLE evidence DROP COLUMN height;
ALTER TABLE evidence DROP COLUMN width;
