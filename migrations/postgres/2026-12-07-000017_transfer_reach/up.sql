-- The real-time flow-back check asks, for each payer of a new transfer, which loans' proceeds
-- reached it and who paid it since a date. With (to_party, booked_at) alone every such transfer
-- was read from the table to learn its payer and loan; carrying both in the index answers the
-- two questions, and the payer filter of transfers_between, from the index alone.
DROP INDEX fund_transfers_to;
CREATE INDEX fund_transfers_to ON fund_transfers (to_party, booked_at, from_party, loan_id);
