DROP TABLE inspections;
DROP TABLE checklist_templates;
