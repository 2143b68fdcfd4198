//! Layered configuration: the embedded `config/default.toml`, then an optional file, then
//! environment variables (the upper-case name of each key).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Environment variables and the keys they set.
const ENV_KEYS: &[(&str, &str)] = &[
    ("BIND", "bind"),
    ("DATABASE_URL", "database_url"),
    ("DATABASE_POOL_SIZE", "database_pool_size"),
    ("DATABASE_TIMEOUT_SECS", "database_timeout_secs"),
    ("SOCKET_BACKLOG_BYTES", "socket_backlog_bytes"),
    ("ADMIN_PASSWORD", "admin_password"),
    ("COOKIE_KEY", "cookie_key"),
    ("COOKIE_SECURE", "cookie_secure"),
    ("LOGIN_DAYS", "login_days"),
    ("CLIENT_TIMEOUT_SECS", "client_timeout_secs"),
    ("PING_INTERVAL_SECS", "ping_interval_secs"),
    ("ALLOWED_ORIGINS", "allowed_origins"),
    ("SESSION_END_REDIRECT_URL", "session_end_redirect_url"),
    ("REDIS_URL", "redis_url"),
    ("REDIS_PREFIX", "redis_prefix"),
    ("VERSION_CHECK_SECS", "version_check_secs"),
    ("TRUSTED_PROXIES", "trusted_proxies"),
    ("KEEP_ALIVE_SECS", "keep_alive_secs"),
    ("INSTANCE_NAME", "instance_name"),
    ("LOG_FORMAT", "log_format"),
    ("WEBHOOK_ATTEMPTS", "webhook_attempts"),
    ("WEBHOOK_RETRY_BASE_MS", "webhook_retry_base_ms"),
    ("WEBHOOK_TIMEOUT_SECS", "webhook_timeout_secs"),
    ("WEBHOOK_CA_FILE", "webhook_ca_file"),
];

/// Keys whose environment variable is a comma-separated list.
const LIST_KEYS: &[&str] = &["allowed_origins", "trusted_proxies"];

/// Every setting of the server. Secrets (and URLs, which may carry a password) are
/// [`SecretString`]s: `Debug` prints them as redacted, and `expose_secret()` marks each place
/// that needs the value.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub bind: String,
    pub database_url: SecretString,
    pub database_pool_size: u32,
    pub database_timeout_secs: f64,
    pub socket_backlog_bytes: usize,
    pub admin_password: SecretString,
    pub cookie_key: SecretString,
    pub cookie_secure: bool,
    pub login_days: u32,
    pub client_timeout_secs: f64,
    pub ping_interval_secs: f64,
    pub allowed_origins: Vec<String>,
    pub session_end_redirect_url: String,
    pub redis_url: SecretString,
    /// Starts every Redis key and channel name, so that deployments can share one Redis.
    pub redis_prefix: String,
    /// With Redis: how often each live session compares its version with the database's.
    pub version_check_secs: f64,
    /// Proxies whose `X-Forwarded-For` names the client (for counting failed logins).
    pub trusted_proxies: Vec<IpAddr>,
    /// How long an idle kept-alive HTTP connection stays open.
    pub keep_alive_secs: f64,
    /// This process's name in `X-Served-By` and the web UI; never empty after loading (the
    /// host name when not set).
    pub instance_name: String,
    /// `text` (readable, the default) or `json` (one object per line, for log collectors).
    pub log_format: crate::logging::LogFormat,
    /// How many times a webhook delivery is tried (the first included) before it has failed.
    pub webhook_attempts: u32,
    /// The wait before a delivery's first retry; each next one waits twice as long.
    pub webhook_retry_base_ms: u64,
    /// How long one attempt may take, connecting included.
    pub webhook_timeout_secs: f64,
    /// A PEM file of certificates that https webhook receivers may also be signed by (a team's
    /// own CA), besides the built-in public roots; empty: none.
    pub webhook_ca_file: String,
}

/// Settings that cannot be loaded, with what to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Loads the layers; `file` is the optional `--config` file.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_with(file, |name| std::env::var(name).ok())
    }

    /// Loads the layers with a custom environment (tests).
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        use config::{Config, File, FileFormat};
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            builder = builder.add_source(File::from(file).required(true));
        }
        for (var, key) in ENV_KEYS {
            let Some(value) = env(var) else { continue };
            builder = if LIST_KEYS.contains(key) {
                let list: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                builder.set_override(*key, list)
            } else {
                builder.set_override(*key, value)
            }
            .map_err(|e| SettingsError(e.to_string()))?;
        }
        let mut settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.instance_name = settings.instance_name.trim().to_string();
        if settings.instance_name.is_empty() {
            settings.instance_name = host_name(&env);
        }
        settings.checked()
    }

    fn checked(self) -> Result<Settings, SettingsError> {
        for (name, secs) in [
            ("client_timeout_secs", self.client_timeout_secs),
            ("ping_interval_secs", self.ping_interval_secs),
            ("database_timeout_secs", self.database_timeout_secs),
            ("version_check_secs", self.version_check_secs),
            ("keep_alive_secs", self.keep_alive_secs),
            ("webhook_timeout_secs", self.webhook_timeout_secs),
        ] {
            if !(secs.is_finite() && secs > 0.0 && secs < 86_400.0) {
                return Err(SettingsError(format!(
                    "{name} must be a number of seconds above 0, got {secs}"
                )));
            }
        }
        if self.socket_backlog_bytes < 4096 {
            return Err(SettingsError(format!(
                "socket_backlog_bytes must be at least 4096, got {}",
                self.socket_backlog_bytes
            )));
        }
        if !self.webhook_ca_file.trim().is_empty() {
            self.webhook_roots()?;
        }
        if !(1..=20).contains(&self.webhook_attempts) {
            return Err(SettingsError(format!(
                "webhook_attempts must be 1 to 20, got {}",
                self.webhook_attempts
            )));
        }
        if !(1..=3_600_000).contains(&self.webhook_retry_base_ms) {
            return Err(SettingsError(format!(
                "webhook_retry_base_ms must be 1 to 3600000, got {}",
                self.webhook_retry_base_ms
            )));
        }
        if self.database_pool_size == 0 {
            return Err(SettingsError(
                "database_pool_size must be at least 1".into(),
            ));
        }
        let prefix_ok = |c: char| c.is_ascii_alphanumeric() || "_-.:".contains(c);
        if self.redis_prefix.is_empty() || !self.redis_prefix.chars().all(prefix_ok) {
            return Err(SettingsError(format!(
                "redis_prefix must be letters, digits and _ - . : only, got {:?}",
                self.redis_prefix
            )));
        }
        // It goes into a response header and the pages as it is.
        let name = &self.instance_name;
        if name.len() > MAX_INSTANCE_NAME
            || !name.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(SettingsError(format!(
                "instance_name must be 1 to {MAX_INSTANCE_NAME} printable ASCII characters, \
                 got {name:?}"
            )));
        }
        Ok(self)
    }

    pub fn version_check(&self) -> Duration {
        Duration::from_secs_f64(self.version_check_secs)
    }

    /// How long an idle kept-alive HTTP connection stays open (`HttpServer::keep_alive`).
    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs_f64(self.keep_alive_secs)
    }

    /// The certificates of `webhook_ca_file`, for https receivers signed by a team's own CA.
    pub fn webhook_roots(&self) -> Result<Vec<reqwest::Certificate>, SettingsError> {
        let path = self.webhook_ca_file.trim();
        if path.is_empty() {
            return Ok(Vec::new());
        }
        let pem = std::fs::read(path)
            .map_err(|e| SettingsError(format!("webhook_ca_file {path}: cannot read it: {e}")))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            SettingsError(format!("webhook_ca_file {path}: not PEM certificates: {e}"))
        })?;
        if roots.is_empty() {
            return Err(SettingsError(format!(
                "webhook_ca_file {path}: holds no certificate"
            )));
        }
        Ok(roots)
    }

    /// When webhook deliveries are attempted, and for how long each.
    pub fn webhook_schedule(&self) -> crate::webhooks::Schedule {
        crate::webhooks::Schedule {
            attempts: self.webhook_attempts,
            base: Duration::from_millis(self.webhook_retry_base_ms),
            timeout: Duration::from_secs_f64(self.webhook_timeout_secs),
        }
    }

    pub fn client_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.client_timeout_secs)
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs_f64(self.ping_interval_secs)
    }

    pub fn database_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.database_timeout_secs)
    }

    /// The secret values as they could appear in a message: the passwords, the cookie key, and
    /// each URL's password (libpq and URL parsers may echo a URL in their errors).
    fn secret_strings(&self) -> Vec<String> {
        let mut secrets = vec![
            self.admin_password.expose_secret().to_string(),
            self.cookie_key.expose_secret().trim().to_string(),
        ];
        for url in [&self.database_url, &self.redis_url] {
            push_url_password(&mut secrets, url.expose_secret());
        }
        tidy(secrets)
    }

    /// A [`Redactor`] for every secret of these settings.
    pub fn redactor(&self) -> Redactor {
        Redactor(self.secret_strings())
    }
}

/// The longest `instance_name` accepted.
const MAX_INSTANCE_NAME: usize = 64;

/// The default `instance_name`: `HOSTNAME` from the environment (Docker sets it to the
/// container's host name), else `/etc/hostname`, else `planning-poker`.
fn host_name(env: &impl Fn(&str) -> Option<String>) -> String {
    env("HOSTNAME")
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| {
            !name.is_empty()
                && name.len() <= MAX_INSTANCE_NAME
                && name.bytes().all(|b| b.is_ascii_graphic())
        })
        .unwrap_or_else(|| "planning-poker".to_string())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds a URL's password, as written and percent-decoded as a driver would print it.
fn push_url_password(secrets: &mut Vec<String>, url: &str) {
    if let Some(password) = url_password(url) {
        secrets.push(percent_decode(password));
        secrets.push(password.to_string());
    }
}

/// Longest first (a secret containing another is replaced whole), no empty string, no twins.
fn tidy(mut secrets: Vec<String>) -> Vec<String> {
    secrets.retain(|s| !s.is_empty());
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// The password part of `scheme://user:password@host/...`, as written.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password)
}

/// Replaces every secret of the settings in a text with `[redacted]`; for log lines and error
/// messages that may quote a URL or a value.
#[derive(Clone, Default)]
pub struct Redactor(Vec<String>);

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.0.len())
    }
}

impl Redactor {
    /// Also hides the password of a URL that is not in the settings, such as the database
    /// URLs given to `copy-data` on the command line.
    pub fn with_url(self, url: &str) -> Redactor {
        let mut secrets = self.0;
        push_url_password(&mut secrets, url);
        Redactor(tidy(secrets))
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_sqlite_on_loopback() {
        let s = Settings::load_with(None, |_| None).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8000");
        assert_eq!(
            s.database_url.expose_secret(),
            "sqlite://data/planning-poker.db"
        );
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.client_timeout(), Duration::from_secs(60));
        assert_eq!(s.ping_interval(), Duration::from_secs(10));
        assert_eq!(s.session_end_redirect_url, "/");
    }

    #[test]
    fn environment_overrides_defaults() {
        let env = |name: &str| match name {
            "BIND" => Some("127.0.0.1:0".to_string()),
            "CLIENT_TIMEOUT_SECS" => Some("1.5".to_string()),
            "ALLOWED_ORIGINS" => Some("https://a.example, https://b.example".to_string()),
            _ => None,
        };
        let s = Settings::load_with(None, env).unwrap();
        assert_eq!(s.bind, "127.0.0.1:0");
        assert_eq!(s.client_timeout(), Duration::from_millis(1500));
        assert_eq!(
            s.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn a_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("pp-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("poker.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\nsession_end_redirect_url = \"/bye\"\n",
        )
        .unwrap();
        let env = |name: &str| (name == "BIND").then(|| "127.0.0.1:1".to_string());
        let s = Settings::load_with(Some(&file), env).unwrap();
        assert_eq!(s.bind, "127.0.0.1:1");
        assert_eq!(s.session_end_redirect_url, "/bye");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn nonsense_timings_are_refused() {
        let env = |name: &str| (name == "PING_INTERVAL_SECS").then(|| "0".to_string());
        assert!(Settings::load_with(None, env).is_err());
        assert!(Settings::load_with(Some(Path::new("/nonexistent.toml")), |_| None).is_err());
    }

    fn with_secrets(name: &str) -> Option<String> {
        let value = match name {
            "ADMIN_PASSWORD" => "adm1n-Secret",
            "COOKIE_KEY" => "Y29va2llLWtleS1zZWNyZXQ=",
            "DATABASE_URL" => "postgres://poker:db%2Fpass-word@db.internal:5432/poker",
            "REDIS_URL" => "redis://:redis-pass-7@cache:6379/",
            "TRUSTED_PROXIES" => "10.0.0.1, ::1",
            _ => return None,
        };
        Some(value.to_string())
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let s = Settings::load_with(None, with_secrets).unwrap();
        let debug = format!("{s:?}");
        for secret in [
            "adm1n-Secret",
            "Y29va2llLWtleS1zZWNyZXQ=",
            "db%2Fpass-word",
            "db/pass-word",
            "redis-pass-7",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("database_pool_size"), "{debug}");
        assert_eq!(
            s.trusted_proxies,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn the_redactor_hides_each_secret_and_url_password() {
        let s = Settings::load_with(None, with_secrets).unwrap();
        let r = s.redactor();
        let message = "cannot connect to postgres://poker:db%2Fpass-word@db.internal:5432/poker \
                       (password db/pass-word), admin adm1n-Secret, redis redis-pass-7";
        let redacted = r.redact(message);
        for secret in [
            "db%2Fpass-word",
            "db/pass-word",
            "adm1n-Secret",
            "redis-pass-7",
        ] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(redacted.contains("db.internal:5432"), "{redacted}");
        assert!(!format!("{r:?}").contains("adm1n"));
        // A URL from elsewhere (copy-data's --from) joins the settings' secrets.
        let more = r.with_url("postgres://old:from%40pass@legacy/poker");
        let redacted = more.redact("from@pass and from%40pass, adm1n-Secret");
        assert_eq!(redacted, "[redacted] and [redacted], [redacted]");
        // With no secrets set, nothing is replaced (not even the empty string).
        let plain = Settings::load_with(None, |_| None).unwrap().redactor();
        assert_eq!(plain.redact("postgres://a@b/c"), "postgres://a@b/c");
    }

    #[test]
    fn keep_alive_defaults_to_75_s_and_is_checked_like_the_other_durations() {
        let s = Settings::load_with(None, |_| None).unwrap();
        assert_eq!(s.keep_alive(), Duration::from_secs(75));
        let with = |value: &'static str| {
            move |name: &str| (name == "KEEP_ALIVE_SECS").then(|| value.to_string())
        };
        let s = Settings::load_with(None, with("2.5")).unwrap();
        assert_eq!(s.keep_alive(), Duration::from_millis(2500));
        for nonsense in ["0", "-1", "NaN", "inf", "86400", "soon"] {
            assert!(
                Settings::load_with(None, with(nonsense)).is_err(),
                "KEEP_ALIVE_SECS={nonsense} was accepted"
            );
        }
    }

    #[test]
    fn the_instance_name_is_set_or_the_host_name() {
        // Explicit wins over HOSTNAME, and is trimmed.
        let env = |name: &str| match name {
            "INSTANCE_NAME" => Some(" app1 ".to_string()),
            "HOSTNAME" => Some("container-7f3a".to_string()),
            _ => None,
        };
        assert_eq!(
            Settings::load_with(None, env).unwrap().instance_name,
            "app1"
        );
        // Unset or blank: the host name from the environment.
        let env = |name: &str| match name {
            "INSTANCE_NAME" => Some("  ".to_string()),
            "HOSTNAME" => Some("container-7f3a\n".to_string()),
            _ => None,
        };
        assert_eq!(
            Settings::load_with(None, env).unwrap().instance_name,
            "container-7f3a"
        );
        // Without HOSTNAME: /etc/hostname or the fallback; never empty, always a valid header.
        let s = Settings::load_with(None, |_| None).unwrap();
        assert!(!s.instance_name.is_empty());
        assert!(s.instance_name.bytes().all(|b| b.is_ascii_graphic()));
        // A HOSTNAME that cannot be a header value is passed over, not refused.
        let env = |name: &str| (name == "HOSTNAME").then(|| "h\u{f6}st".to_string());
        let s = Settings::load_with(None, env).unwrap();
        assert_ne!(s.instance_name, "h\u{f6}st");
    }

    #[test]
    fn an_instance_name_that_is_no_header_value_is_refused() {
        for bad in ["app\n1", "app\u{f6}", "a\tb", &"x".repeat(65)] {
            let bad = bad.to_string();
            let env = move |name: &str| (name == "INSTANCE_NAME").then(|| bad.clone());
            assert!(Settings::load_with(None, env).is_err());
        }
        let env = |name: &str| (name == "INSTANCE_NAME").then(|| "poker eu-1 (blue)".to_string());
        assert_eq!(
            Settings::load_with(None, env).unwrap().instance_name,
            "poker eu-1 (blue)"
        );
    }

    #[test]
    fn webhooks_retry_six_times_over_half_a_minute_unless_set_otherwise() {
        let s = Settings::load_with(None, |_| None)
            .unwrap()
            .webhook_schedule();
        assert_eq!(s.attempts, 6);
        assert_eq!(s.base, Duration::from_secs(1));
        assert_eq!(s.timeout, Duration::from_secs(5));
        let env = |name: &str| match name {
            "WEBHOOK_ATTEMPTS" => Some("3".to_string()),
            "WEBHOOK_RETRY_BASE_MS" => Some("50".to_string()),
            "WEBHOOK_TIMEOUT_SECS" => Some("0.5".to_string()),
            _ => None,
        };
        let s = Settings::load_with(None, env).unwrap().webhook_schedule();
        assert_eq!(
            (s.attempts, s.base, s.timeout),
            (3, Duration::from_millis(50), Duration::from_millis(500))
        );
        for (name, bad) in [
            ("WEBHOOK_ATTEMPTS", "0"),
            ("WEBHOOK_ATTEMPTS", "21"),
            ("WEBHOOK_RETRY_BASE_MS", "0"),
            ("WEBHOOK_TIMEOUT_SECS", "0"),
        ] {
            let env = move |n: &str| (n == name).then(|| bad.to_string());
            assert!(Settings::load_with(None, env).is_err(), "{name}={bad}");
        }
    }

    #[test]
    fn a_trusted_proxy_that_is_not_an_address_is_refused() {
        let env = |name: &str| (name == "TRUSTED_PROXIES").then(|| "10.0.0.0/8".to_string());
        assert!(Settings::load_with(None, env).is_err());
    }
}
