DROP TABLE abstentions;
ALTER TABLE stories DROP COLUMN revealed;
ALTER TABLE poker_sessions DROP COLUMN auto_reveal;
ALTER TABLE poker_sessions DROP COLUMN reveal;
