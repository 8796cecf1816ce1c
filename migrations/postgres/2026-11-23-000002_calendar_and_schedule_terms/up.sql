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
