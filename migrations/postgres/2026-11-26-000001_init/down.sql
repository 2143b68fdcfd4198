DROP TABLE settings;
DROP TABLE votes;
ALTER TABLE poker_sessions DROP CONSTRAINT poker_sessions_active_story_fk;
DROP TABLE stories;
DROP TABLE poker_sessions;
DROP TABLE tokens;
DROP TABLE users;
