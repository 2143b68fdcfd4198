-- Every change to a live session counts one version, in the transaction that makes it; the
-- row's lock orders the writers of every server process, and the number lets each process
-- apply the changes it hears about (through Redis) in that one order.
ALTER TABLE poker_sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
