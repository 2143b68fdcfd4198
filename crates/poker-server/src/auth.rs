//! Who is asking: argon2 passwords (and the Django original's, upgraded at login), random tokens stored as SHA-256, the signed login cookie,
//! and the identity of a request (cookie, `Authorization: Bearer`, or `?token=`).

use actix_web::cookie::{time, Cookie, CookieJar, Key, SameSite};
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use poker_db::{Store, TokenKind, User};
use sha2::{Digest, Sha256};

use crate::error::{blocking, ApiError};
use crate::AppState;

pub use crate::passwords::{hash_password, needs_rehash, verify_password};

/// The name of the login cookie.
pub const COOKIE_NAME: &str = "poker_login";
/// The settings key under which a generated cookie key is kept.
const COOKIE_KEY_SETTING: &str = "cookie_key";

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// A new random secret: 256 bits, URL-safe base64.
pub fn new_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// What is stored for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How login cookies are made.
#[derive(Clone)]
pub struct CookieSettings {
    key: Key,
    secure: bool,
    pub login_days: u32,
}

impl CookieSettings {
    /// The configured key (base64 of at least 64 bytes) or one generated once and kept in the database.
    pub fn load(
        store: &Store,
        configured: &str,
        secure: bool,
        login_days: u32,
    ) -> Result<Self, String> {
        let encoded = if configured.trim().is_empty() {
            store
                .setting_or_insert(COOKIE_KEY_SETTING, || {
                    base64::engine::general_purpose::STANDARD.encode(random_bytes::<64>())
                })
                .map_err(|e| e.to_string())?
        } else {
            configured.trim().to_string()
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .map_err(|e| format!("cookie_key is not base64: {e}"))?;
        let key = Key::try_from(bytes.as_slice())
            .map_err(|_| "cookie_key must be at least 64 bytes (base64-encoded)".to_string())?;
        Ok(CookieSettings {
            key,
            secure,
            login_days,
        })
    }

    /// The signed, HttpOnly, SameSite=Lax login cookie carrying `token`.
    pub fn login_cookie(&self, token: &str) -> Cookie<'static> {
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key)
            .add(Cookie::new(COOKIE_NAME, token.to_string()));
        let mut cookie = jar
            .get(COOKIE_NAME)
            .cloned()
            .unwrap_or_else(|| Cookie::new(COOKIE_NAME, ""));
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(self.secure);
        cookie.set_max_age(time::Duration::days(i64::from(self.login_days)));
        cookie
    }

    /// A cookie that makes the browser forget the login.
    pub fn removal_cookie(&self) -> Cookie<'static> {
        let mut cookie = Cookie::new(COOKIE_NAME, "");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.make_removal();
        cookie
    }

    /// The token inside a request's login cookie, if the signature holds.
    fn token_from_cookie(&self, req: &HttpRequest) -> Option<String> {
        let cookie = req.cookie(COOKIE_NAME)?;
        let mut jar = CookieJar::new();
        jar.add_original(cookie.into_owned());
        jar.signed(&self.key)
            .get(COOKIE_NAME)
            .map(|c| c.value().to_string())
    }
}

/// The token a request presents: login cookie, then bearer header, then `?token=`.
fn presented_token(req: &HttpRequest, cookies: &CookieSettings) -> Option<String> {
    if let Some(token) = cookies.token_from_cookie(req) {
        return Some(token);
    }
    if let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = value.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_string());
            }
        }
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("token").cloned())
        .filter(|t| !t.is_empty())
}

/// The logged-in user of a request, and the hash of the token that proved it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub token_hash: String,
    /// A guest (let in by an invite link) sees this one session and nothing else.
    pub guest_session: Option<i64>,
    /// When the login ends (seconds since 1970); `None`: a bearer token, until revoked.
    pub expires_at: Option<i64>,
}

impl Identity {
    /// Whether this identity may see the session `session_id` (a story without a session is
    /// nobody's guest business).
    pub fn may_see(&self, session_id: Option<i64>) -> bool {
        match self.guest_session {
            None => true,
            Some(own) => session_id == Some(own),
        }
    }

    /// Fails with 404 (as for a session that does not exist: a guest learns nothing of others)
    /// unless this identity may see `session_id`.
    pub fn require_session(&self, session_id: Option<i64>, what: &str) -> Result<(), ApiError> {
        if self.may_see(session_id) {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("no {what} here")))
        }
    }

    /// Fails with 403 for a guest: what needs an account of one's own.
    pub fn require_member(&self, what: &str) -> Result<(), ApiError> {
        match self.guest_session {
            None => Ok(()),
            Some(_) => Err(ApiError::Forbidden(format!("guests cannot {what}"))),
        }
    }

    /// Fails with 403 unless the user is an administrator.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only administrators may do this".into(),
            ))
        }
    }
}

/// Resolves the request's identity; `None` when it presents no valid token.
pub async fn identify(req: &HttpRequest, state: &AppState) -> Result<Option<Identity>, ApiError> {
    let Some(token) = presented_token(req, &state.cookies) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let store = state.store.clone();
    let lookup = hash.clone();
    let found = blocking(move || Ok(store.login_by_token(&lookup)?)).await?;
    Ok(found.map(|login| Identity {
        user: login.user,
        token_hash: hash,
        guest_session: login.guest_session,
        expires_at: login.expires_at,
    }))
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Identity, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            identify(&req, state)
                .await?
                .ok_or_else(ApiError::login_required)
        })
    }
}

/// Issues a new token of `kind` for `user_id` and returns the secret (shown once).
pub fn issue_token(
    store: &Store,
    user_id: i64,
    kind: TokenKind,
    days: Option<u32>,
) -> Result<String, ApiError> {
    let token = new_secret();
    let expires_at = days.map(|d| chrono::Utc::now().timestamp() + i64::from(d) * 86_400);
    store.insert_token(user_id, &token_hash(&token), kind, expires_at)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        assert_ne!(new_secret(), new_secret());
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(token_hash("abc"), token_hash("abc"));
    }
}
