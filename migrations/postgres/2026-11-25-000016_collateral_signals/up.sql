-- A collateral signal (seized, revalued) names the pledged item it is about; the health check
-- finds the reports on the items securing a borrower's loans by this column.
ALTER TABLE signals ADD COLUMN collateral_id TEXT;
CREATE INDEX signals_collateral ON signals (collateral_id, occurred_on);
