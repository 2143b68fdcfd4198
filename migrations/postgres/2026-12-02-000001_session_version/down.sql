ALTER TABLE poker_sessions DROP COLUMN version;
