-- The round's countdown (README, "Timer"): when it ends (milliseconds since 1970, UTC) and how
-- long it was, while one runs; and whether its end reveals the round.
ALTER TABLE poker_sessions ADD COLUMN timer_ends_at BIGINT;
ALTER TABLE poker_sessions ADD COLUMN timer_seconds BIGINT;
ALTER TABLE poker_sessions ADD COLUMN timer_reveals BOOLEAN NOT NULL DEFAULT TRUE;
