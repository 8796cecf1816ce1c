ALTER TABLE evidence DROP COLUMN signature_verified;
ALTER TABLE evidence DROP COLUMN device_signature;
ALTER TABLE evidence DROP COLUMN device_id;
DROP TABLE device_keys;
