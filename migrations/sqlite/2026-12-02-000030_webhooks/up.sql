-- Webhooks (README, "Webhooks"): URLs an admin registered for one session (session_id) or for
-- all (NULL). The secret signs each delivery (HMAC-SHA256), so it is kept as given, unlike
-- tokens: it must be recoverable to sign. A session's own hooks go with the session.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    session_id BIGINT REFERENCES poker_sessions(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_session_id ON webhooks(session_id);

-- One event sent to one hook: its state (pending, delivered, failed, dropped), its attempts
-- (attempt_log: a JSON array of {at, status_code | error}), the body as sent. Times are
-- milliseconds since 1970 (UTC). They go with their hook; session_id is not a reference, so a
-- global hook keeps its log of a session that was deleted.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    session_id BIGINT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    attempt_log TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries(webhook_id, id);
