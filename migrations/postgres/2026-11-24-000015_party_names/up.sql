-- A loan names its contract counterparty by party id or by exact name; the real-time path looks
-- the name up on every posted proceeds payment, which scanned every party without this index.
CREATE INDEX parties_name ON parties (name);
