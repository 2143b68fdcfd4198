DROP TABLE guests;
DROP TABLE invites;
