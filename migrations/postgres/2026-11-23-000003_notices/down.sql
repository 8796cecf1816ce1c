ALTER TABLE loans DROP COLUMN diverted_from;
DROP TABLE products;
DROP TABLE job_runs;
DROP TABLE notices;
