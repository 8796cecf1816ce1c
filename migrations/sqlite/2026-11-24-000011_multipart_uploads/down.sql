ALTER TABLE evidence DROP COLUMN part_bytes;
ALTER TABLE evidence DROP COLUMN upload_id;
