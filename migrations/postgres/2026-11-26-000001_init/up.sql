CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    can_vote BOOLEAN NOT NULL DEFAULT FALSE,
    can_moderate BOOLEAN NOT NULL DEFAULT FALSE,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- Login cookies and bearer tokens; only a SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX tokens_user_id ON tokens(user_id);

CREATE TABLE poker_sessions (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    poker_date DATE NOT NULL,
    active_story_id BIGINT,
    deck TEXT NOT NULL,
    secret_votes BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE stories (
    id BIGSERIAL PRIMARY KEY,
    poker_session_id BIGINT REFERENCES poker_sessions(id) ON DELETE SET NULL,
    position BIGINT NOT NULL,
    ticket_number TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    story_points TEXT
);
CREATE INDEX stories_session_position ON stories(poker_session_id, position);

ALTER TABLE poker_sessions
    ADD CONSTRAINT poker_sessions_active_story_fk
    FOREIGN KEY (active_story_id) REFERENCES stories(id) ON DELETE SET NULL;

CREATE TABLE votes (
    id BIGSERIAL PRIMARY KEY,
    story_id BIGINT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    choice TEXT NOT NULL,
    UNIQUE (story_id, user_id)
);
CREATE INDEX votes_user_id ON votes(user_id);

-- Server-wide values that must survive restarts, such as the generated cookie key.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
