DROP TABLE work_logs;
