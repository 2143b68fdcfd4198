ALTER TABLE poker_sessions DROP COLUMN timer_reveals;
ALTER TABLE poker_sessions DROP COLUMN timer_seconds;
ALTER TABLE poker_sessions DROP COLUMN timer_ends_at;
