DROP INDEX signals_collateral;
ALTER TABLE signals DROP COLUMN collateral_id;
