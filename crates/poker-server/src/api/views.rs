//! The JSON shapes of users, sessions and stories.

use poker_core::deck::points_json;
use poker_db::{PokerSession, Story, User};
use serde_json::{json, Value};

/// A user (never the password).
pub fn user(u: &User) -> Value {
    let mut permissions = Vec::new();
    if u.can_vote {
        permissions.push("vote");
    }
    if u.can_moderate {
        permissions.push("moderate");
    }
    if u.is_admin {
        permissions.push("admin");
    }
    json!({
        "id": u.id,
        "username": u.username,
        "can_vote": u.can_vote,
        "can_moderate": u.can_moderate,
        "is_admin": u.is_admin,
        "permissions": permissions,
    })
}

/// A story, with its label and its points as the wire shows them.
pub fn story(s: &Story) -> Value {
    json!({
        "id": s.id,
        "poker_session_id": s.poker_session_id,
        "position": s.position,
        "ticket_number": s.ticket_number,
        "title": s.title,
        "description": s.description,
        "story_points": s.story_points.as_deref().map(points_json),
        "label": s.label(),
    })
}

/// A session; with `stories`, its stories in order are included.
pub fn session(s: &PokerSession, stories: Option<&[Story]>) -> Value {
    let mut value = json!({
        "id": s.id,
        "name": s.name,
        "poker_date": s.poker_date.format("%Y-%m-%d").to_string(),
        "active_story_id": s.active_story_id,
        "deck": s.deck,
        "secret_votes": s.secret_votes,
    });
    if let Some(stories) = stories {
        value["stories"] = stories.iter().map(story).collect();
    }
    value
}
