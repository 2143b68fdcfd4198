//! (ours) Guests by invite link (README, "Guests by invite link"): an administrator or a
//! moderator makes an invite for a session (a random secret, a role, an expiry); anyone with
//! the link picks a name and is in, as a guest who sees that one session and nothing else.
//! Invites are kept as the SHA-256 of their secret, like tokens; revoking one ends its guests'
//! logins and closes their sockets (4001).

use actix_web::{delete, get, post, web, HttpResponse};
use poker_core::fields;
use poker_db::invites::{Invite, InviteRole, NewInvite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse, required, JsonBody, OptionalJsonBody};
use super::parse_id;
use super::views::{ErrorBody, UserView};
use crate::auth::{new_secret, token_hash, Identity};
use crate::error::{blocking, or_missing, ApiError};
use crate::live::messages::Changed;
use crate::AppState;

/// How long an invite lasts when the request does not say: a day.
const DEFAULT_HOURS: i64 = 24;
/// The longest an invite may last: thirty days.
const MAX_HOURS: i64 = 720;

/// An invite to make.
#[derive(Deserialize, ToSchema)]
pub struct CreateInviteBody {
    /// `voter` (the default) or `spectator`.
    pub(crate) role: Option<String>,
    /// Hours until it expires: 1–720, 24 when absent.
    pub(crate) expires_in_hours: Option<i64>,
}

/// An invite as its session's moderators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    pub id: i64,
    pub session_id: i64,
    /// `voter` or `spectator`.
    #[schema(value_type = String)]
    pub role: InviteRole,
    /// RFC 3339.
    pub created_at: String,
    pub expires_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// Whether it still lets people in.
    pub open: bool,
    /// Guests who came in through it.
    pub guests: i64,
    /// Only when it is made: the secret, and the link to hand out (a path on this server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

fn time(seconds: i64) -> String {
    crate::live::frames::wire_time(seconds * 1000)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl From<&Invite> for InviteView {
    fn from(i: &Invite) -> Self {
        InviteView {
            id: i.id,
            session_id: i.session_id,
            role: i.role,
            created_at: time(i.created_at),
            expires_at: time(i.expires_at),
            revoked_at: i.revoked_at.map(time),
            open: i.is_open(now()),
            guests: i.guests,
            token: None,
            link: None,
        }
    }
}

/// What an invite link shows before one joins.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub session_id: i64,
    pub session_name: String,
    #[schema(value_type = String)]
    pub role: InviteRole,
    pub expires_at: String,
}

/// A guest's name, to join with.
#[derive(Deserialize, ToSchema)]
pub struct JoinBody {
    /// 1–150 characters, not taken by anyone on this server.
    pub(crate) name: Option<String>,
}

/// What joining answers: the guest, and the session to go to.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinedView {
    pub user: UserView,
    pub session_id: i64,
}

/// Invites are made and seen by administrators and by moderators (not guests).
fn require_host(identity: &Identity) -> Result<(), ApiError> {
    identity.require_member("invite others")?;
    if identity.user.is_admin || identity.user.can_moderate {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "inviting guests needs the right to moderate".into(),
        ))
    }
}

/// An open invite by its secret; 404 for one that is unknown, expired or revoked (all the
/// same to whoever holds the link).
async fn open_invite(state: &AppState, token: &str) -> Result<Invite, ApiError> {
    let store = state.store.clone();
    let hash = token_hash(token);
    let invite = blocking(move || Ok(store.invite_by_token(&hash)?)).await?;
    invite
        .filter(|i| i.is_open(now()))
        .ok_or_else(|| ApiError::NotFound("this invite link is unknown, expired or revoked".into()))
}

/// (ours) Makes an invite link for a session.
#[utoipa::path(
    tag = "invites",
    params(("id" = i64, Path, description = "The session's id")),
    request_body(content = Option<CreateInviteBody>),
    responses(
        (status = 201, body = InviteView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/invites")]
pub async fn create(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    require_host(&identity)?;
    let session_id = parse_id(&path, "session")?;
    let body = match body.0 {
        Some(value) => parse::<CreateInviteBody>(value)?,
        None => CreateInviteBody {
            role: None,
            expires_in_hours: None,
        },
    };
    let role = match body.role.as_deref() {
        None => InviteRole::Voter,
        Some(raw) => InviteRole::parse(raw)
            .ok_or_else(|| ApiError::invalid("role", "must be \"voter\" or \"spectator\""))?,
    };
    let hours = body.expires_in_hours.unwrap_or(DEFAULT_HOURS);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(ApiError::invalid(
            "expires_in_hours",
            format!("must be a whole number of hours from 1 to {MAX_HOURS}"),
        ));
    }
    let token = new_secret();
    let new = NewInvite {
        session_id,
        token_hash: token_hash(&token),
        role,
        created_by: Some(identity.user.id),
        expires_at: now() + hours * 3600,
    };
    let store = state.store.clone();
    let invite = blocking(move || {
        store
            .create_invite(&new)
            .map_err(or_missing("session", session_id))
    })
    .await?;
    log::info!(
        session = session_id;
        "session {session_id}: invite {} ({}) made by {}",
        invite.id,
        role.as_str(),
        identity.user.username
    );
    let view = InviteView {
        link: Some(format!("/join/{token}")),
        token: Some(token),
        ..InviteView::from(&invite)
    };
    Ok(HttpResponse::Created().json(view))
}

/// (ours) A session's invites, newest first (their secrets are never shown again).
#[utoipa::path(
    tag = "invites",
    params(("id" = i64, Path, description = "The session's id")),
    responses((status = 200, body = Vec<InviteView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/sessions/{id}/invites")]
pub async fn list(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_host(&identity)?;
    let session_id = parse_id(&path, "session")?;
    let store = state.store.clone();
    let invites = blocking(move || {
        if store.session(session_id)?.is_none() {
            return Err(ApiError::NotFound(format!("no session {session_id}")));
        }
        Ok(store.invites(session_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(invites.iter().map(InviteView::from).collect::<Vec<_>>()))
}

/// (ours) Revokes an invite: nobody else comes in with it, its guests' logins end and their
/// sockets close with 4001. Revoking again changes nothing.
#[utoipa::path(
    tag = "invites",
    params(
        ("id" = i64, Path, description = "The session's id"),
        ("invite_id" = i64, Path, description = "The invite's id"),
    ),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("cookie" = []), ("bearer" = []))
)]
#[delete("/api/sessions/{id}/invites/{invite_id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_host(&identity)?;
    let (session, invite) = path.into_inner();
    let session_id = parse_id(&session, "session")?;
    let invite_id = parse_id(&invite, "invite")?;
    let store = state.store.clone();
    let guests = blocking(move || {
        store
            .revoke_invite(session_id, invite_id)
            .map_err(or_missing("invite", invite_id))
    })
    .await?;
    log::info!(
        session = session_id;
        "session {session_id}: invite {invite_id} revoked by {}; {} guest(s) logged out",
        identity.user.username,
        guests.len()
    );
    for user_id in guests {
        state
            .notify_all(Changed::LoginsEnded {
                user_id,
                token_hash: None,
                why: "the invite was revoked".into(),
            })
            .await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// (ours) What an invite link leads to, for the join page; anyone with the link may ask.
#[utoipa::path(
    tag = "invites",
    params(("token" = String, Path, description = "The invite's secret, from its link")),
    responses((status = 200, body = InvitationView), (status = 404, body = ErrorBody)),
)]
#[get("/api/invites/{token}")]
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let invite = open_invite(&state, &path).await?;
    let store = state.store.clone();
    let session_id = invite.session_id;
    let session = blocking(move || Ok(store.session(session_id)?)).await?;
    let session =
        session.ok_or_else(|| ApiError::NotFound("this invite's session is gone".into()))?;
    Ok(HttpResponse::Ok().json(InvitationView {
        session_id,
        session_name: session.name,
        role: invite.role,
        expires_at: time(invite.expires_at),
    }))
}

/// (ours) Joins through an invite link with a name: a guest user of that one session, logged
/// in (the login cookie) until the invite expires.
#[utoipa::path(
    tag = "invites",
    params(("token" = String, Path, description = "The invite's secret, from its link")),
    request_body = JoinBody,
    responses(
        (status = 201, body = JoinedView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
)]
#[post("/api/invites/{token}/join")]
pub async fn join(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: JoinBody = parse(body.into_inner())?;
    let name = fields::username(&required(body.name, "name")?)
        .map_err(|e| ApiError::invalid("name", e.to_string()))?;
    let invite = open_invite(&state, &path).await?;
    let login = new_secret();
    let hash = token_hash(&login);
    let store = state.store.clone();
    let (invite_id, expires_at) = (invite.id, invite.expires_at);
    let (user, session_id) = blocking(move || {
        store
            .join_invite(invite_id, &name, &hash, expires_at)
            .map_err(|e| match e {
                poker_db::DbError::Conflict(message)
                    if message == poker_db::invites::INVITE_FULL =>
                {
                    ApiError::Conflict(message)
                }
                poker_db::DbError::Conflict(message) => ApiError::invalid("name", message),
                poker_db::DbError::NotFound => {
                    ApiError::NotFound("this invite link is unknown, expired or revoked".into())
                }
                other => other.into(),
            })
    })
    .await?;
    log::info!(
        session = session_id, user = user.id;
        "session {session_id}: guest {} ({}) joined through invite {invite_id}",
        user.id,
        user.username
    );
    let view = JoinedView {
        user: UserView {
            guest_session_id: Some(session_id),
            ..UserView::from(&user)
        },
        session_id,
    };
    Ok(HttpResponse::Created()
        .cookie(state.cookies.login_cookie(&login))
        .json(view))
}
