DROP INDEX fund_transfers_to;
CREATE INDEX fund_transfers_to ON fund_transfers (to_party, booked_at);
