//! A fresh PostgreSQL database for a run, created through a URL the bench is given and dropped
//! afterwards, so runs never see each other's data.

use anyhow::{Context, Result};
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::guard::ensure_loopback;

/// `pp_bench_<unique>`, dropped (with any connections left) when this is dropped.
pub struct FreshDatabase {
    admin_url: String,
    pub name: String,
    /// The URL of the new database (the admin URL with its path replaced).
    pub url: String,
}

impl FreshDatabase {
    /// Creates a database named `pp_bench_<tag>_<unique>` through `admin_url` (a loopback
    /// PostgreSQL URL whose user may create databases).
    pub async fn create(admin_url: &str, tag: &str) -> Result<FreshDatabase> {
        ensure_loopback(admin_url)?;
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL URL")?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            anyhow::bail!("not a PostgreSQL URL (postgres://…): {}", url.scheme());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!(
            "pp_bench_{tag}_{}_{:x}",
            std::process::id(),
            nanos % 0xffff_ffff
        );
        url.set_path(&format!("/{name}"));
        let (admin, db) = (admin_url.to_string(), name.clone());
        // Before libpq's first TLS connection: OpenSSL without its exit handler, which frees
        // its state under threads still closing connections (see poker-db's connection.rs).
        openssl_sys::init();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut conn = PgConnection::establish(&admin)
                .map_err(|e| anyhow::anyhow!("connect to the PostgreSQL URL given: {e}"))?;
            diesel::sql_query(format!("CREATE DATABASE \"{db}\""))
                .execute(&mut conn)
                .with_context(|| format!("create database {db}"))?;
            Ok(())
        })
        .await??;
        Ok(FreshDatabase {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
        })
    }
}

/// Whether a database named `name` exists on the server of `admin_url` (blocking).
pub fn database_exists(admin_url: &str, name: &str) -> Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(admin_url)
        .map_err(|e| anyhow::anyhow!("connect to the PostgreSQL URL given: {e}"))?;
    let found: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(&mut conn)
            .context("query pg_database")?;
    Ok(found.n > 0)
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let result = PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .execute(&mut conn)
                .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            eprintln!("warning: could not drop database {}: {e}", self.name);
        }
    }
}
