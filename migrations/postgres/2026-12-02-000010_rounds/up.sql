-- Rounds (README, "Reveal and abstaining"): a session's rule for when votes are shown, each
-- story's round revealed or not, and who said they do not vote on a story.
ALTER TABLE poker_sessions ADD COLUMN reveal TEXT NOT NULL DEFAULT 'after_own_vote';
ALTER TABLE poker_sessions ADD COLUMN auto_reveal BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE stories ADD COLUMN revealed BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE abstentions (
    id BIGSERIAL PRIMARY KEY,
    story_id BIGINT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    UNIQUE (story_id, user_id)
);
CREATE INDEX abstentions_user_id ON abstentions(user_id);
