//! What a scenario runs against: the real server (set up through its REST API) or the baseline
//! (whose users and sessions are made up locally).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::guard::ensure_loopback;

/// The password of every user the bench creates on a real server.
const USER_PASSWORD: &str = "bench-user-password";

/// Which server a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Baseline,
    Server,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::Server => "server",
        }
    }
}

/// A participant as the bench drives it.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: i64,
    pub name: String,
    pub token: String,
    pub moderator: bool,
    /// Whether the member casts votes in a run (a voting moderator does too).
    pub votes: bool,
}

/// A session ready to play: its active story and members.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub id: i64,
    pub story_id: i64,
    pub members: Vec<Member>,
}

/// A server to load.
#[derive(Clone)]
pub struct Target {
    pub kind: Kind,
    pub url: String,
    http: reqwest::Client,
    admin_token: Option<String>,
    run_id: String,
    /// Makes the names of each batch of users unique within a run.
    batch: Arc<std::sync::atomic::AtomicU64>,
}

fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}", nanos % 0xffff_ffff)
}

impl Target {
    /// The baseline at `url`.
    pub fn baseline(url: &str) -> Result<Target> {
        ensure_loopback(url)?;
        Ok(Target {
            kind: Kind::Baseline,
            url: url.to_string(),
            http: reqwest::Client::new(),
            admin_token: None,
            run_id: run_id(),
            batch: Default::default(),
        })
    }

    /// The real server at `url`, logged in as `admin`.
    pub async fn server(url: &str, admin_password: &str) -> Result<Target> {
        ensure_loopback(url)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .build()?;
        let login = http
            .post(format!("{url}/api/auth/login"))
            .json(&json!({"username": "admin", "password": admin_password}))
            .send()
            .await
            .context("log in as admin")?;
        if !login.status().is_success() {
            bail!(
                "admin login failed ({}): check --admin-password",
                login.status()
            );
        }
        let cookie = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let token: Value = http
            .post(format!("{url}/api/auth/tokens"))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await?
            .json()
            .await?;
        let admin_token = token["token"].as_str().context("a token")?.to_string();
        Ok(Target {
            kind: Kind::Server,
            url: url.to_string(),
            http,
            admin_token: Some(admin_token),
            run_id: run_id(),
            batch: Default::default(),
        })
    }

    /// The socket URL of a session for a member.
    pub fn ws_url(&self, session_id: i64, member: &Member) -> String {
        let ws = self.url.replacen("http", "ws", 1);
        format!("{ws}/ws/poker/{session_id}/?token={}", member.token)
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let token = self
            .admin_token
            .as_deref()
            .context("only the real server has an admin")?;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request
            .send()
            .await
            .with_context(|| format!("call {path}"))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    /// `count` users; with `moderator_first`, the first may moderate (and not vote), the rest vote.
    pub async fn users(&self, count: usize, moderator_first: bool) -> Result<Vec<Member>> {
        self.users_with(count, moderator_first, false).await
    }

    /// As [`Target::users`]; with `moderator_votes`, the moderator may vote too (and does in a
    /// run), as in teams where the moderator estimates as well.
    pub async fn users_with(
        &self,
        count: usize,
        moderator_first: bool,
        moderator_votes: bool,
    ) -> Result<Vec<Member>> {
        let is_moderator = |i: usize| moderator_first && i == 0;
        let votes = |i: usize| !is_moderator(i) || moderator_votes;
        if self.kind == Kind::Baseline {
            return Ok((0..count)
                .map(|i| {
                    let id = i as i64 + 1;
                    let name = format!("u{id}");
                    let flag = match (is_moderator(i), votes(i)) {
                        (true, true) => "mv",
                        (true, false) => "m",
                        _ => "v",
                    };
                    Member {
                        user_id: id,
                        token: format!("{id}.{name}.{flag}"),
                        name,
                        moderator: is_moderator(i),
                        votes: votes(i),
                    }
                })
                .collect());
        }
        let this = Arc::new(self.clone());
        let batch = self
            .batch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stream::iter(0..count)
            .map(|i| {
                let this = this.clone();
                async move {
                    let name = format!("bench-{}-{batch}-{i}", this.run_id);
                    let moderator = is_moderator(i);
                    let user = this
                        .admin(
                            reqwest::Method::POST,
                            "/api/users",
                            Some(json!({"username": name, "password": USER_PASSWORD, "can_vote": votes(i), "can_moderate": moderator})),
                        )
                        .await?;
                    let token = this.token_for(&name).await?;
                    Ok::<_, anyhow::Error>(Member { user_id: user["id"].as_i64().context("user id")?, name, token, moderator, votes: votes(i) })
                }
            })
            .buffered(8)
            .try_collect()
            .await
    }

    async fn token_for(&self, username: &str) -> Result<String> {
        let client = reqwest::Client::new();
        let login = client
            .post(format!("{}/api/auth/login", self.url))
            .json(&json!({"username": username, "password": USER_PASSWORD}))
            .send()
            .await?;
        if !login.status().is_success() {
            bail!("login of {username} failed: {}", login.status());
        }
        let cookie = login
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .context("a login cookie")?;
        let token: Value = client
            .post(format!("{}/api/auth/tokens", self.url))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await?
            .json()
            .await?;
        Ok(token["token"].as_str().context("a token")?.to_string())
    }

    /// Gives a story a description of `bytes` bytes, so that every `story_changed` is that
    /// large (the baseline has no descriptions: nothing to do there).
    pub async fn describe_story(&self, story_id: i64, bytes: usize) -> Result<()> {
        if self.kind == Kind::Baseline || bytes == 0 {
            return Ok(());
        }
        let text = "x".repeat(bytes.saturating_sub(7));
        self.admin(
            reqwest::Method::PATCH,
            &format!("/api/stories/{story_id}"),
            Some(json!({ "description": format!("<p>{text}</p>") })),
        )
        .await?;
        Ok(())
    }

    /// `count` sessions with one story each and `members` in every one. Votes are never
    /// secret (`secret_votes: false`, checked in the server's answer): the baseline has no
    /// secrecy, so on both every member is entitled to see every vote, and all are counted.
    pub async fn sessions(&self, count: usize, members: &[Member]) -> Result<Vec<SessionPlan>> {
        if self.kind == Kind::Baseline {
            return Ok((0..count)
                .map(|i| SessionPlan {
                    id: i as i64 + 1,
                    story_id: 1,
                    members: members.to_vec(),
                })
                .collect());
        }
        let this = Arc::new(self.clone());
        stream::iter(0..count)
            .map(|i| {
                let this = this.clone();
                async move {
                    let session = this
                        .admin(reqwest::Method::POST, "/api/sessions", Some(json!({"name": format!("bench {} #{i}", this.run_id), "poker_date": "2026-01-01"})))
                        .await?;
                    let id = session["id"].as_i64().context("session id")?;
                    // The server's create ignores `secret_votes`; the PATCH sets it, and its
                    // answer says whether it took.
                    let patched = this.admin(reqwest::Method::PATCH, &format!("/api/sessions/{id}"), Some(json!({"secret_votes": false}))).await?;
                    if patched["secret_votes"] != Value::Bool(false) {
                        bail!("session {id} still has secret votes after PATCH {{\"secret_votes\": false}}: {patched}");
                    }
                    let story = this
                        .admin(reqwest::Method::POST, &format!("/api/sessions/{id}/stories"), Some(json!({"ticket_number": format!("BENCH-{i}")})))
                        .await?;
                    Ok::<_, anyhow::Error>(SessionPlan { id, story_id: story["id"].as_i64().context("story id")?, members: Vec::new() })
                }
            })
            .buffered(16)
            .map_ok(|mut plan| {
                plan.members = members.to_vec();
                plan
            })
            .try_collect()
            .await
    }

    /// `GET /api/sessions/{id}` through `http` (as the admin on the real server; the baseline
    /// has no accounts): the status, or the transport error.
    pub async fn get_session(&self, http: &reqwest::Client, id: i64) -> Result<u16> {
        let mut request = http.get(format!("{}/api/sessions/{id}", self.url));
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        let reply = request.send().await?;
        let status = reply.status().as_u16();
        // Read the whole answer: the work the server does includes sending it.
        reply.bytes().await?;
        Ok(status)
    }

    /// Creates `count` voters without logging them in (real server only); their names.
    pub async fn create_voters(&self, count: usize) -> Result<Vec<String>> {
        let batch = self
            .batch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let this = Arc::new(self.clone());
        stream::iter(0..count)
            .map(|i| {
                let this = this.clone();
                async move {
                    let name = format!("bench-{}-{batch}-{i}", this.run_id);
                    this.admin(
                        reqwest::Method::POST,
                        "/api/users",
                        Some(json!({"username": name, "password": USER_PASSWORD, "can_vote": true, "can_moderate": false})),
                    )
                    .await?;
                    Ok::<_, anyhow::Error>(name)
                }
            })
            .buffered(8)
            .try_collect()
            .await
    }

    /// `POST /api/auth/login` as `username` (a user the bench created), on a connection of its
    /// own: the status, or the transport error.
    pub async fn login(&self, username: &str) -> Result<u16> {
        let reply = reqwest::Client::new()
            .post(format!("{}/api/auth/login", self.url))
            .json(&json!({"username": username, "password": USER_PASSWORD}))
            .send()
            .await?;
        let status = reply.status().as_u16();
        reply.bytes().await?;
        Ok(status)
    }

    /// The server's counters and histogram sums from `/metrics` (Prometheus text), keyed by
    /// `name{labels}`; only the metrics whose names start with one of `prefixes`.
    pub async fn metrics(&self, prefixes: &[&str]) -> Result<HashMap<String, f64>> {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .context("GET /metrics")?
            .text()
            .await?;
        Ok(parse_metrics(&text, prefixes))
    }

    /// The stored choice of each voter on a story (real server only).
    pub async fn persisted_votes(&self, story_id: i64) -> Result<HashMap<i64, String>> {
        let body = self
            .admin(
                reqwest::Method::GET,
                &format!("/api/stories/{story_id}/votes"),
                None,
            )
            .await?;
        let mut choices = HashMap::new();
        if let Some(votes) = body["votes"].as_object() {
            for (option, voters) in votes {
                for voter in voters.as_array().into_iter().flatten() {
                    if let Some(id) = voter["id"].as_i64() {
                        choices.insert(id, option.clone());
                    }
                }
            }
        }
        Ok(choices)
    }
}

/// `name{labels} value` lines of Prometheus text whose name starts with one of `prefixes`.
pub fn parse_metrics(text: &str, prefixes: &[&str]) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && prefixes.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_lines_by_name_and_labels() {
        let text = "# HELP poker_x x\n# TYPE poker_x counter\npoker_x{outcome=\"ok\"} 12\n\
                    poker_x{outcome=\"failed\"} 0\npoker_y_sum 1.5\nother 3\n";
        let m = parse_metrics(text, &["poker_x", "poker_y"]);
        assert_eq!(m.len(), 3);
        assert_eq!(m["poker_x{outcome=\"ok\"}"], 12.0);
        assert_eq!(m["poker_y_sum"], 1.5);
    }
}
