-- Guests by invite link (README, "Guests by invite link"): a session's invites, stored by the
-- SHA-256 of their secret like tokens, and the guest users they let in, each scoped to the
-- invite's session.
CREATE TABLE invites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id BIGINT NOT NULL REFERENCES poker_sessions(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX invites_session_id ON invites(session_id);

CREATE TABLE guests (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    invite_id BIGINT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES poker_sessions(id) ON DELETE CASCADE
);
CREATE INDEX guests_invite_id ON guests(invite_id);
