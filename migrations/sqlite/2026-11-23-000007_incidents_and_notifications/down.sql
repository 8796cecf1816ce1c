DROP TABLE incident_signatures;
DROP TABLE incident_reports;
DROP TABLE notifications;
ALTER TABLE tasks DROP COLUMN escalated_at;
