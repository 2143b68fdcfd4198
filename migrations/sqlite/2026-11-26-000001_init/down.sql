DROP TABLE settings;
DROP TABLE votes;
DROP TABLE stories;
DROP TABLE poker_sessions;
DROP TABLE tokens;
DROP TABLE users;
