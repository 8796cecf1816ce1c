-- Working-day calendars, one official arrangement per year (JSON document validated by the
-- domain), and the schedule parameters of a loan.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

ALTER TABLE loans ADD COLUMN repayment_frequency TEXT NOT NULL DEFAULT 'monthly';
ALTER TABLE loans ADD COLUMN repayment_day INTEGER;
ALTER TABLE loans ADD COLUMN day_count TEXT NOT NULL DEFAULT 'act_360';
ALTER TABLE loans ADD COLUMN custom_schedule TEXT;
-- The terms as contracted; annual_rate and maturity_date follow rate changes and extensions.
ALTER TABLE loans ADD COLUMN contract_annual_rate TEXT NOT NULL DEFAULT '';
ALTER TABLE loans ADD COLUMN contract_maturity_date DATE NOT NULL DEFAULT '1970-01-01';
UPDATE loans SET contract_annual_rate = annual_rate, contract_maturity_date = maturity_date;
