DROP TABLE checkins;
DROP TABLE borrower_sites;
