ALTER TABLE loans DROP COLUMN contract_maturity_date;
ALTER TABLE loans DROP COLUMN contract_annual_rate;
ALTER TABLE loans DROP COLUMN custom_schedule;
ALTER TABLE loans DROP COLUMN day_count;
ALTER TABLE loans DROP COLUMN repayment_day;
ALTER TABLE loans DROP COLUMN repayment_frequency;
DROP TABLE calendar_years;
