//! Stories: in a session's order, edited, moved, reordered, and their votes.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use poker_core::{fields, Deck};
use poker_db::{NewStory, Store, StoryPatch};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::body::{nullable, parse, required, JsonBody};
use super::parse_id;
use super::views::{ErrorBody, StoryView, VoterView, VotesView};
use crate::auth::Identity;
use crate::error::{blocking, or_missing, ApiError};
use crate::live::change::SessionChange;
use crate::AppState;

/// The change a REST edit of the list of stories makes to a live session.
const STORIES: SessionChange = SessionChange::Edited {
    story: false,
    stories: true,
};

/// A story to append to a session.
#[derive(Deserialize, ToSchema)]
pub struct CreateStoryBody {
    /// 1–200 characters.
    pub(crate) ticket_number: Option<String>,
    /// 0–200 characters.
    pub(crate) title: Option<String>,
    /// HTML; sanitized on write.
    pub(crate) description: Option<String>,
}

/// Changes to a story; absent fields stay as they are, null clears `story_points` or unassigns
/// the story from its session.
#[derive(Deserialize, ToSchema)]
pub struct UpdateStoryBody {
    pub(crate) ticket_number: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    /// A point option of the session's deck (string or number), or null.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub(crate) story_points: Option<Option<Value>>,
    /// Another session (the story is appended there), or null.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub(crate) poker_session_id: Option<Option<i64>>,
}

/// A story edit with its fields checked at the edge; the points are checked against the
/// session's deck later, with the database.
#[derive(Debug, Clone)]
pub(crate) struct CheckedStoryEdit {
    pub(crate) ticket_number: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) story_points: Option<Option<Value>>,
    pub(crate) poker_session_id: Option<Option<i64>>,
}

impl UpdateStoryBody {
    /// Validates every field that can be judged without the database (the handler and the
    /// fuzz entry point both call this).
    pub(crate) fn checked(self) -> Result<CheckedStoryEdit, ApiError> {
        let ticket_number = self
            .ticket_number
            .as_deref()
            .map(fields::ticket_number)
            .transpose()?;
        let title = self.title.as_deref().map(fields::title).transpose()?;
        let description = self.description.as_deref().map(sanitize_description);
        if let Some(Some(session_id)) = self.poker_session_id {
            if session_id <= 0 {
                return Err(ApiError::invalid(
                    "poker_session_id",
                    "must be the id of a session",
                ));
            }
        }
        Ok(CheckedStoryEdit {
            ticket_number,
            title,
            description,
            story_points: self.story_points,
            poker_session_id: self.poker_session_id,
        })
    }
}

/// A new order of a session's stories.
#[derive(Deserialize, ToSchema)]
pub struct OrderBody {
    /// Exactly the session's story ids, in the new order.
    pub(crate) story_ids: Option<Vec<i64>>,
}

/// Sanitizes story HTML: ordinary formatting stays, scripts, handlers and `javascript:` go.
/// The result is stable: sanitizing it again changes nothing.
pub fn sanitize_description(html: &str) -> String {
    // One pass is not always stable: a character reference such as `&#13;` or `&#xfeff;` comes
    // out raw, which the next parse normalizes (to `\n`, or drops as a byte-order mark), and
    // misnested markup such as `<a><a></a></a>` is serialized as a tree that a parser (the next
    // pass, or the browser) rebuilds differently. Passes repeat until the output is what a
    // parser reads back, so what is stored is what browsers see and re-saving changes nothing.
    let mut clean = ammonia::clean(html);
    for _ in 0..8 {
        let again = ammonia::clean(&clean);
        if again == clean {
            break;
        }
        clean = again;
    }
    clean
}

/// A new story's fields, checked and sanitized.
pub fn new_story(
    ticket_number: Option<String>,
    title: Option<String>,
    description: Option<String>,
) -> Result<NewStory, ApiError> {
    Ok(NewStory {
        ticket_number: fields::ticket_number(&required(ticket_number, "ticket_number")?)?,
        title: fields::title(&title.unwrap_or_default())?,
        description: sanitize_description(&description.unwrap_or_default()),
    })
}

fn session_stories(store: &Store, id: i64) -> Result<Vec<poker_db::Story>, ApiError> {
    store
        .session(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    Ok(store.stories(id)?)
}

/// A session's stories in order.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The session's id")),
    responses((status = 200, body = Vec<StoryView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/sessions/{id}/stories")]
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "session")?;
    identity.require_session(Some(id), "session")?;
    let store = state.store.clone();
    let stories = blocking(move || session_stories(&store, id)).await?;
    Ok(HttpResponse::Ok().json(stories.iter().map(StoryView::from).collect::<Vec<_>>()))
}

/// Appends a story to a session; open sockets get `stories_changed`.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The session's id")),
    request_body = CreateStoryBody,
    responses(
        (status = 201, body = StoryView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/stories")]
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let session_id = parse_id(&path, "session")?;
    let body: CreateStoryBody = parse(body.into_inner())?;
    let new = new_story(body.ticket_number, body.title, body.description)?;
    let store = state.store.clone();
    let (story, version) = blocking(move || {
        store
            .create_story(session_id, &new)
            .map_err(or_missing("session", session_id))
    })
    .await?;
    state.notify(version, STORIES);
    Ok(HttpResponse::Created().json(StoryView::from(&story)))
}

/// Puts a session's stories in a new order; the ids must be exactly its stories (else 422).
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The session's id")),
    request_body = OrderBody,
    responses(
        (status = 200, body = Vec<StoryView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[put("/api/sessions/{id}/stories/order")]
pub async fn reorder(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let session_id = parse_id(&path, "session")?;
    let body: OrderBody = parse(body.into_inner())?;
    let ids = required(body.story_ids, "story_ids")?;
    let store = state.store.clone();
    let (stories, version) = blocking(move || {
        store
            .reorder_stories(session_id, &ids)
            .map_err(or_missing("session", session_id))?
            .map_err(|_| {
                ApiError::invalid(
                    "story_ids",
                    "must list every story of the session exactly once",
                )
            })
    })
    .await?;
    state.notify(version, STORIES);
    Ok(HttpResponse::Ok().json(stories.iter().map(StoryView::from).collect::<Vec<_>>()))
}

/// One story.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The story's id")),
    responses((status = 200, body = StoryView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/stories/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "story")?;
    let store = state.store.clone();
    let story = blocking(move || Ok(store.story(id)?)).await?;
    let story = story
        .filter(|s| identity.may_see(s.poker_session_id))
        .ok_or_else(|| ApiError::NotFound(format!("no story {id}")))?;
    Ok(HttpResponse::Ok().json(StoryView::from(&story)))
}

/// Changes a story, or moves it to another session (appended last). Open sockets hear of it:
/// `story_changed` when it is the active story, `stories_changed` when the list changes.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The story's id")),
    request_body = UpdateStoryBody,
    responses(
        (status = 200, body = StoryView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[patch("/api/stories/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "story")?;
    let CheckedStoryEdit {
        ticket_number,
        title,
        description,
        story_points: raw_points,
        poker_session_id: target_session,
    } = parse::<UpdateStoryBody>(body.into_inner())?.checked()?;
    let list_changed = ticket_number.is_some() || title.is_some() || raw_points.is_some();
    // Points set (not cleared) fire `points_set`.
    let points_given = matches!(raw_points, Some(Some(_)));
    let active_changed = ticket_number.is_some() || title.is_some() || description.is_some();
    let store = state.store.clone();
    let edit = blocking(move || {
        let story = store
            .story(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no story {id}")))?;
        let session_id = target_session.unwrap_or(story.poker_session_id);
        let deck = match session_id {
            Some(s) => {
                store
                    .session(s)?
                    .ok_or_else(|| {
                        ApiError::invalid("poker_session_id", format!("no session {s}"))
                    })?
                    .deck
            }
            None => Deck::default(),
        };
        let story_points = match raw_points {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => Some(Some(
                deck.story_points(&raw)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "story_points",
                            format!("{raw} is not a point option of the session's deck"),
                        )
                    })?
                    .as_str()
                    .to_string(),
            )),
        };
        let patch = StoryPatch {
            ticket_number,
            title,
            description,
            story_points,
            poker_session_id: target_session,
        };
        store
            .update_story(id, &patch)
            .map_err(or_missing("story", id))
    })
    .await?;
    let now = edit.story.poker_session_id;
    // Each session the edit touched counted one version; it carries all that changed there.
    if edit.previous_session_id != now {
        if let Some(version) = edit.previous_session_id.and_then(|s| edit.version_of(s)) {
            let change = SessionChange::Edited {
                story: edit.was_active,
                stories: true,
            };
            state.notify(version, change);
        }
        if let Some(version) = now.and_then(|s| edit.version_of(s)) {
            state.notify(version, STORIES);
        }
    } else if let Some(version) = now.and_then(|s| edit.version_of(s)) {
        let change = SessionChange::Edited {
            story: edit.was_active && active_changed,
            stories: list_changed,
        };
        state.notify(version, change);
    }
    if let (true, Some(session_id), Some(points)) = (points_given, now, &edit.story.story_points) {
        let data = crate::webhooks::points_set(&edit.story, points);
        state
            .webhooks
            .fire(crate::webhooks::EventKind::PointsSet, session_id, data);
    }
    Ok(HttpResponse::Ok().json(StoryView::from(&edit.story)))
}

/// Deletes a story with its votes; it stops being the active story. Open sockets get
/// `stories_changed`.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The story's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/stories/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let id = parse_id(&path, "story")?;
    let store = state.store.clone();
    let removal = blocking(move || store.delete_story(id).map_err(or_missing("story", id))).await?;
    if let Some(version) = removal.version {
        let change = SessionChange::Edited {
            story: removal.was_active,
            stories: true,
        };
        state.notify(version, change);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A story's votes as in `story_changed`. While the story is active and votes are secret, a
/// caller who may vote and has not voted gets `votes` empty (and `voters` in full).
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The story's id")),
    responses((status = 200, body = VotesView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/stories/{id}/votes")]
pub async fn votes(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, "story")?;
    let store = state.store.clone();
    let view = blocking(move || {
        let story = store
            .story(id)?
            .filter(|s| identity.may_see(s.poker_session_id))
            .ok_or_else(|| ApiError::NotFound(format!("no story {id}")))?;
        let user = identity.user;
        let session = match story.poker_session_id {
            Some(s) => store.session(s)?,
            None => None,
        };
        let rows = store.votes(id)?;
        let round = store.round(id)?;
        let visible = match &session {
            Some(s) => poker_core::Secrecy {
                secret_votes: s.secret_votes,
                reveal: s.reveal,
                revealed: round.revealed,
            }
            .shows_votes(
                s.active_story_id == Some(id),
                poker_core::Viewer {
                    can_vote: user.can_vote,
                    done: rows.iter().any(|v| v.user_id == user.id)
                        || round.abstained.iter().any(|a| a.user_id == user.id),
                },
            ),
            None => true,
        };
        let deck = session.map(|s| s.deck).unwrap_or_default();
        let view = crate::live::frames::votes_view(&deck, &rows, &round, visible);
        let votes = view.votes.to_json();
        let people = |people: Vec<poker_core::Voter>| -> Vec<VoterView> {
            people
                .into_iter()
                .map(|v| VoterView {
                    id: v.id,
                    name: v.name,
                })
                .collect()
        };
        Ok(VotesView {
            votes,
            voters: people(view.voters),
            abstained: people(view.abstained),
            revealed: view.revealed,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[cfg(test)]
mod tests {
    use super::sanitize_description;

    /// Found by the `rest_body` fuzz target: `&#13;` became a raw `\r`, which sanitizing again
    /// turned into `\n`; a leading `&#xfeff;` a byte-order mark that it dropped; nested links
    /// a tree that it rebuilt. Re-saving an unchanged description changed it.
    #[test]
    fn a_sanitized_description_stays_as_it_is_when_sanitized_again() {
        for html in [
            "a &#13; b",
            "a&#13;&#10;b",
            "<p title=\"x&#13;y\">z</p>",
            "a\r\nb\rc",
            "&#xfeff;&#xFEFF;x",
            "<a><a></a><table></table></a>",
        ] {
            let once = sanitize_description(html);
            assert!(!once.contains('\r'), "{once:?}");
            assert_eq!(sanitize_description(&once), once, "{html:?}");
        }
    }
}
