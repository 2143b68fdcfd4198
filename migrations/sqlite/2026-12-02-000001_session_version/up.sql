-- Every change to a live session counts one version, in the transaction that makes it (see the
-- PostgreSQL migration; on SQLite one process owns the database, so it only orders that one).
ALTER TABLE poker_sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
