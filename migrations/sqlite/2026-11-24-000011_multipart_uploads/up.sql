-- A video sent to S3 in parts: the storage's upload id and the part size it was cut into, fixed
-- at declaration so a change of configuration cannot break an upload under way.
ALTER TABLE evidence ADD COLUMN upload_id TEXT;
ALTER TABLE evidence ADD COLUMN part_bytes BIGINT;
