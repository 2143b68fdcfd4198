//! The pure parts of a delivery: the checked URL, the body, the signature, the retry schedule.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The event names (README, "Webhooks").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    PointsSet,
    StoriesImported,
    SessionEnded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PointsSet => "points_set",
            EventKind::StoriesImported => "stories_imported",
            EventKind::SessionEnded => "session_ended",
        }
    }
}

/// Why a URL cannot be a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadUrl(String);

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// A webhook URL: absolute, `http` or `https`, with a host, no user or password (they would be
/// sent as they are and shown in every listing).
pub fn checked_url(raw: &str) -> Result<String, BadUrl> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return Err(BadUrl(format!(
            "must be an http or https URL of 1 to {MAX_URL_LEN} characters"
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| BadUrl(format!("is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(BadUrl(format!("must be http or https, not {other}"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(BadUrl("must name a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BadUrl(
            "must not carry a user or password; sign with the secret instead".into(),
        ));
    }
    Ok(url.to_string())
}

/// `X-Poker-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", hex(&mac.finalize().into_bytes()))
}

/// When attempts are made: the first at once, each retry after twice the wait before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub attempts: u32,
    pub base: Duration,
    pub timeout: Duration,
}

impl Schedule {
    /// The wait before attempt `n` (1-based); zero for the first.
    pub fn wait_before(&self, n: u32) -> Duration {
        if n <= 1 {
            return Duration::ZERO;
        }
        self.base.saturating_mul(1 << (n - 2).min(20))
    }

    /// Whether a pending delivery that has had `attempts` attempts and was last recorded at
    /// `updated_ms` has been left by the process making them: that process records the next
    /// attempt at the latest its wait plus one timeout later (plus the time to write it down,
    /// [`ABANDONED_AFTER`] at most). Every process is assumed to run the same schedule.
    pub fn abandoned(&self, attempts: i64, updated_ms: i64, now_ms: i64) -> bool {
        let next = u32::try_from(attempts.saturating_add(1)).unwrap_or(u32::MAX);
        let silence = self.wait_before(next) + self.timeout + ABANDONED_AFTER;
        let silence_ms = i64::try_from(silence.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(updated_ms) > silence_ms
    }
}

/// How long past its next attempt's latest moment a pending delivery must have been silent to
/// count as left by a stopped process (see [`Schedule::abandoned`]).
pub const ABANDONED_AFTER: Duration = Duration::from_secs(5);

/// A random secret, shown once: `whsec_` and 256 random bits (the tokens' kind of secret).
pub fn new_secret() -> String {
    format!("whsec_{}", crate::auth::new_secret())
}

/// A random event id: `evt_` and 128 random bits in hex.
pub fn new_event_id() -> String {
    format!("evt_{}", hex(&crate::auth::random_bytes::<16>()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_webhooks() {
        assert_eq!(
            checked_url(" http://127.0.0.1:9000/hook ").unwrap(),
            "http://127.0.0.1:9000/hook"
        );
        assert_eq!(
            checked_url("https://hooks.example/poker").unwrap(),
            "https://hooks.example/poker"
        );
        assert_eq!(
            checked_url("http://hooks.example").unwrap(),
            "http://hooks.example/"
        );
        for bad in [
            "",
            "hooks.example/x",
            "ftp://hooks.example/",
            "file:///etc/passwd",
            "http://",
            "http://user:pw@hooks.example/",
            "https://user@hooks.example/",
            "javascript:alert(1)",
        ] {
            assert!(checked_url(bad).is_err(), "{bad} was accepted");
        }
        assert!(checked_url(&format!("http://h.example/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{\"a\":1}"),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(signature("a", 1, "x"), signature("b", 1, "x"));
        assert_ne!(signature("a", 1, "x"), signature("a", 2, "x"));
    }

    #[test]
    fn retries_wait_twice_as_long_each_time() {
        let s = Schedule {
            attempts: 6,
            base: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        };
        let waits: Vec<u64> = (1..=6).map(|n| s.wait_before(n).as_secs()).collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16]);
    }

    #[test]
    fn a_delivery_is_left_only_once_its_next_attempt_is_overdue() {
        let s = Schedule {
            attempts: 6,
            base: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        };
        // After 3 attempts the next waits 4 s and may take 5 s: 9 s, and 5 s to record it.
        assert!(!s.abandoned(3, 0, 14_000));
        assert!(s.abandoned(3, 0, 14_001));
        // Recorded but never attempted (the process stopped at once): its first attempt is due
        // at once.
        assert!(!s.abandoned(0, 1_000, 11_000));
        assert!(s.abandoned(0, 1_000, 11_001));
        // A clock that went back never makes one look left.
        assert!(!s.abandoned(3, 50_000, 0));
    }

    #[test]
    fn secrets_and_ids_are_random() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), "whsec_".len() + 43);
        assert_ne!(new_event_id(), new_event_id());
    }
}
