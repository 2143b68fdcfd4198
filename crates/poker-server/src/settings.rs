//! Layered configuration: the embedded `config/default.toml`, then an optional file, then
//! environment variables (the upper-case name of each key).

use std::path::Path;
use std::time::Duration;

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
];

/// Every setting of the server.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub database_pool_size: u32,
    pub database_timeout_secs: f64,
    pub socket_backlog_bytes: usize,
    pub admin_password: String,
    pub cookie_key: String,
    pub cookie_secure: bool,
    pub login_days: u32,
    pub client_timeout_secs: f64,
    pub ping_interval_secs: f64,
    pub allowed_origins: Vec<String>,
    pub session_end_redirect_url: String,
    pub redis_url: String,
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
            builder = if *key == "allowed_origins" {
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
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.checked()
    }

    fn checked(self) -> Result<Settings, SettingsError> {
        for (name, secs) in [
            ("client_timeout_secs", self.client_timeout_secs),
            ("ping_interval_secs", self.ping_interval_secs),
            ("database_timeout_secs", self.database_timeout_secs),
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
        if self.database_pool_size == 0 {
            return Err(SettingsError(
                "database_pool_size must be at least 1".into(),
            ));
        }
        Ok(self)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_sqlite_on_loopback() {
        let s = Settings::load_with(None, |_| None).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8000");
        assert_eq!(s.database_url, "sqlite://data/planning-poker.db");
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
}
