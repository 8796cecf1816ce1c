DROP TABLE borrower_health;
DROP TABLE loan_class_changes;
DROP TABLE signals;
DROP TABLE statements;
