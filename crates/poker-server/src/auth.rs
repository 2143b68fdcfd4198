//! Who is asking: argon2 passwords, random tokens stored as SHA-256, the signed login cookie,
//! and the identity of a request (cookie, `Authorization: Bearer`, or `?token=`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use actix_web::cookie::{time, Cookie, CookieJar, Key, SameSite};
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use poker_db::{Store, TokenKind, User};
use sha2::{Digest, Sha256};

use crate::error::{blocking, ApiError};
use crate::AppState;

/// The name of the login cookie.
pub const COOKIE_NAME: &str = "poker_login";
/// The settings key under which a generated cookie key is kept.
const COOKIE_KEY_SETTING: &str = "cookie_key";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// Threads that do all password hashing.
const HASHING_THREADS: usize = 2;
/// Hash jobs that may wait for a hashing thread. Past this, a request is refused at once (503)
/// rather than queued: 64 argon2 runs on two threads are about a second of waiting, while an
/// unbounded queue under a login flood would make every login wait minutes.
const MAX_WAITING_HASHES: usize = 64;

type HashJob = Box<dyn FnOnce() + Send>;

/// Jobs handed to the hashing threads and not yet finished.
static HASHES_PENDING: AtomicUsize = AtomicUsize::new(0);

fn hashing_busy() -> ApiError {
    ApiError::Busy("the server is busy checking passwords; try again in a second".into())
}

/// Runs `f` on one of the hashing threads and waits for it. Argon2 takes 19 MiB per hash: on a
/// fixed pair of long-lived threads, the allocator keeps at most two such blocks (not one per
/// blocking thread that ever hashed), and a flood of logins cannot take more than two cores.
/// Fails with [`ApiError::Busy`] when [`MAX_WAITING_HASHES`] jobs are already waiting.
fn on_hashing_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    static POOL: OnceLock<Mutex<mpsc::Sender<HashJob>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..HASHING_THREADS {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("poker-hash-{i}"))
                .spawn(move || loop {
                    // The lock is held only while taking a job, not while running it.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                log::error!("cannot start a hashing thread: {e}");
            }
        }
        Mutex::new(jobs)
    });
    // Running jobs count too; the bound is on waiting ones, so allow the threads' share.
    let limit = MAX_WAITING_HASHES + HASHING_THREADS;
    if HASHES_PENDING
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_err()
    {
        return Err(hashing_busy());
    }
    let (reply, answer) = mpsc::channel();
    let job: HashJob = Box::new(move || {
        let value = f();
        HASHES_PENDING.fetch_sub(1, Ordering::AcqRel);
        let _ = reply.send(value);
    });
    let queued = pool.lock().is_ok_and(|jobs| jobs.send(job).is_ok());
    if !queued {
        HASHES_PENDING.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::Internal(
            "the password hashing threads are gone".into(),
        ));
    }
    answer
        .recv()
        .map_err(|_| ApiError::Internal("a password hashing job was lost".into()))
}

fn hash_now(password: &[u8]) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    on_hashing_thread(move || hash_now(password.as_bytes()))?
}

/// Checks a password against a stored argon2 hash; `None` (no such user) checks it against a
/// fixed hash of a random password instead, so an unknown username costs the same argon2 run
/// as a known one and the answer's timing does not tell which usernames exist.
pub fn verify_password(hash: Option<&str>, password: &str) -> Result<bool, ApiError> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let (hash, password) = (hash.map(str::to_string), password.to_string());
    on_hashing_thread(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => match DUMMY.get_or_init(|| hash_now(&random_bytes::<32>()).ok()) {
                Some(dummy) => dummy.clone(),
                None => return false,
            },
        };
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
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
}

impl Identity {
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
    let user = blocking(move || Ok(store.user_by_token(&lookup)?)).await?;
    Ok(user.map(|user| Identity {
        user,
        token_hash: hash,
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

    /// The hashing threads are one per process: the test that fills their queue must not run
    /// beside one that hashes.
    static HASHING: Mutex<()> = Mutex::new(());

    #[test]
    fn passwords_verify_only_themselves() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(Some(&hash), "correct horse").unwrap());
        assert!(!verify_password(Some(&hash), "wrong").unwrap());
        assert!(!verify_password(Some("not a hash"), "correct horse").unwrap());
        assert!(!verify_password(None, "correct horse").unwrap());
    }

    #[test]
    fn a_full_hashing_queue_refuses_at_once() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        // Hold both threads and fill the queue with jobs that wait for a signal.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let mut held = Vec::new();
        for _ in 0..(MAX_WAITING_HASHES + HASHING_THREADS) {
            let wait = wait.clone();
            held.push(std::thread::spawn(move || {
                on_hashing_thread(move || {
                    let _ = wait.lock().map(|w| w.recv());
                })
            }));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while HASHES_PENDING.load(Ordering::Acquire) < MAX_WAITING_HASHES + HASHING_THREADS {
            assert!(std::time::Instant::now() < deadline, "the jobs were queued");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let started = std::time::Instant::now();
        assert!(matches!(hash_password("x"), Err(ApiError::Busy(_))));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        for _ in 0..held.len() {
            let _ = go.send(());
        }
        for job in held {
            assert!(job.join().unwrap().is_ok());
        }
        assert!(hash_password("x").is_ok());
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        assert_ne!(new_secret(), new_secret());
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(token_hash("abc"), token_hash("abc"));
    }
}
