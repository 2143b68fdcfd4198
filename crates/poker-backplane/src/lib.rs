//! The backplane: what lets several planning-poker processes share live sessions through Redis.
//!
//! - **Channels.** Each live session has one channel, `{prefix}:session:{id}` (the prefix,
//!   `poker` by default, lets deployments share one Redis); a process with members in a session
//!   subscribes to it once (never per socket, never by pattern) and publishes each change it
//!   committed there. `{prefix}:all` carries changes that concern every
//!   session (a user's rights, logins that ended). What the messages mean is the server's
//!   business: here they are strings.
//! - **Presence.** Who is in a session is the union over processes. Each process keeps its own
//!   members of a session in the hash `{prefix}:members:{id}` (field: the process id) and its
//!   liveness in the sorted set `{prefix}:presence:{id}` (member: the process id, score: when it
//!   expires, in Unix milliseconds), refreshed by its heartbeat. A process that dies stops
//!   refreshing; the first process that finds its entry expired removes it (atomically, in a
//!   script, so exactly one process does) and announces the leave.
//! - **Faults.** One [`redis::aio::ConnectionManager`] over RESP3 carries commands and
//!   subscriptions, and reconnects by itself. A lost connection (its push channel says so, or a
//!   ping fails) marks the backplane down; once a ping answers again every channel is
//!   subscribed anew and every handler hears [`Inbound::Resync`]: what was published meanwhile
//!   was missed, and the session must reload what it shows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

/// How long one Redis command may take before it counts as failed (the backplane never holds a
/// session up for longer).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the backplane pings Redis while it is up, and while it is down.
const PING_UP: Duration = Duration::from_secs(2);
const PING_DOWN: Duration = Duration::from_millis(500);

/// Removes the processes whose presence expired and their members; returns the ones removed.
/// A script runs atomically, so each expired process is removed (and announced) by exactly one
/// caller.
const REAP: &str = r"
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, process in ipairs(dead) do
  redis.call('ZREM', KEYS[1], process)
  redis.call('HDEL', KEYS[2], process)
end
return dead
";

/// What a subscriber hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A message published on its channel (by any process, this one included).
    Message(String),
    /// Redis is back after an outage: messages may have been missed; reload.
    Resync,
}

/// Called for each message of a channel, on the backplane's task: it must not block.
pub type Handler = Arc<dyn Fn(Inbound) + Send + Sync>;

/// What went wrong with Redis.
#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("bad Redis URL: {0}")]
    BadUrl(String),
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
}

impl From<redis::RedisError> for BackplaneError {
    fn from(e: redis::RedisError) -> Self {
        BackplaneError::Unavailable(e.to_string())
    }
}

/// One process's presence in one session, as another process reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessMembers {
    pub process: String,
    /// What the process stored (the server's encoding of its members).
    pub members: String,
}

/// A subscription, to end it with [`Backplane::unsubscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    channel: String,
    id: u64,
}

struct Inner {
    process: String,
    prefix: String,
    conn: ConnectionManager,
    /// Each channel's handler, with the id of the subscription that set it.
    handlers: Mutex<HashMap<String, (u64, Handler)>>,
    next_id: std::sync::atomic::AtomicU64,
    up: AtomicBool,
    /// Whether it has been up since the start (for what to log when it comes up).
    ever_up: AtomicBool,
    /// Set when the process shuts down: a connection lost from then on is expected.
    closing: AtomicBool,
    /// Why it is down, for `/readyz`.
    problem: Mutex<Option<String>>,
}

/// Handle to the backplane; cheap to clone.
#[derive(Clone)]
pub struct Backplane {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn bounded<T>(
    what: &str,
    work: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, BackplaneError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, work).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(BackplaneError::Unavailable(format!(
            "{what}: no answer within {COMMAND_TIMEOUT:?}"
        ))),
    }
}

impl Backplane {
    /// Connects to Redis at `url` as process `process` (a name unique among the processes that
    /// share it). Starts even if Redis does not answer yet: the backplane is then down and comes
    /// up once Redis answers. Must be called within a Tokio runtime that lives as long as the
    /// process (its tasks run there).
    pub async fn connect(
        url: &str,
        prefix: &str,
        process: String,
    ) -> Result<Backplane, BackplaneError> {
        use redis::IntoConnectionInfo;
        let info = url
            .into_connection_info()
            .map_err(|e| BackplaneError::BadUrl(e.to_string()))?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client =
            redis::Client::open(info).map_err(|e| BackplaneError::BadUrl(e.to_string()))?;
        let (pushes, mut received) = mpsc::unbounded_channel::<PushInfo>();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(pushes)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        let inner = Arc::new(Inner {
            process,
            prefix: prefix.to_string(),
            conn,
            handlers: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            up: AtomicBool::new(false),
            ever_up: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            problem: Mutex::new(Some("not connected yet".into())),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(push) = received.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                inner.pushed(push);
            }
        });
        let backplane = Backplane { inner };
        // The first ping decides whether it starts up; the watcher takes over from there.
        backplane.inner.check().await;
        tokio::spawn(watch(Arc::downgrade(&backplane.inner)));
        Ok(backplane)
    }

    /// The channel of one live session.
    pub fn session_channel(&self, session_id: i64) -> String {
        format!("{}:session:{session_id}", self.inner.prefix)
    }

    /// The channel for changes that concern every session.
    pub fn all_channel(&self) -> String {
        format!("{}:all", self.inner.prefix)
    }

    fn presence_key(&self, session_id: i64) -> String {
        format!("{}:presence:{session_id}", self.inner.prefix)
    }

    fn members_key(&self, session_id: i64) -> String {
        format!("{}:members:{session_id}", self.inner.prefix)
    }

    /// This process's name among those sharing Redis.
    pub fn process(&self) -> &str {
        &self.inner.process
    }

    /// The process is shutting down: from now on a lost connection is not an outage (and not
    /// logged as one), and nothing comes up again.
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::Release);
    }

    /// Whether Redis answers.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Acquire)
    }

    /// Why Redis cannot be used right now, if it cannot.
    pub fn problem(&self) -> Option<String> {
        self.inner.problem.lock().ok().and_then(|p| p.clone())
    }

    /// How many channels this process is subscribed to.
    pub fn subscriptions(&self) -> usize {
        self.inner.handlers.lock().map_or(0, |h| h.len())
    }

    /// Subscribes to `channel`, delivering its messages to `handler` (replacing any handler it
    /// had: one subscription per channel and process). The subscription stands at once; the
    /// result says whether Redis confirmed it. While Redis is down it is made when Redis is
    /// back (and the handler hears [`Inbound::Resync`]).
    pub async fn subscribe(
        &self,
        channel: &str,
        handler: Handler,
    ) -> (Subscription, Result<(), BackplaneError>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut handlers) = self.inner.handlers.lock() {
            handlers.insert(channel.to_string(), (id, handler));
        }
        let subscription = Subscription {
            channel: channel.to_string(),
            id,
        };
        let mut conn = self.inner.conn.clone();
        (
            subscription,
            bounded("SUBSCRIBE", conn.subscribe(channel)).await,
        )
    }

    /// Ends a subscription, unless a newer one of its channel replaced it.
    pub async fn unsubscribe(&self, subscription: Subscription) {
        let channel = subscription.channel;
        let removed = self
            .inner
            .handlers
            .lock()
            .map(|mut h| {
                if h.get(&channel)
                    .is_some_and(|(id, _)| *id == subscription.id)
                {
                    h.remove(&channel);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if removed && self.is_up() {
            let mut conn = self.inner.conn.clone();
            if let Err(e) = bounded("UNSUBSCRIBE", conn.unsubscribe(&channel)).await {
                log::debug!("backplane: unsubscribing {channel}: {e}");
            }
        }
    }

    /// Publishes `payload` on `channel`. Fails at once while Redis is down.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<(), BackplaneError> {
        if !self.is_up() {
            return Err(BackplaneError::Unavailable(
                self.problem().unwrap_or_else(|| "down".into()),
            ));
        }
        let mut conn = self.inner.conn.clone();
        let result = bounded(
            "PUBLISH",
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<i64>(&mut conn),
        )
        .await;
        if let Err(e) = &result {
            self.inner.went_down(&e.to_string());
        }
        result.map(|_| ())
    }

    /// Stores this process's members of a session (`members` is the caller's encoding) as live
    /// until `ttl` from now. True when the entry was new (this process had no live entry: it
    /// joined, or Redis had lost it), so others should hear about it.
    pub async fn put_presence(
        &self,
        session_id: i64,
        members: &str,
        ttl: Duration,
    ) -> Result<bool, BackplaneError> {
        let (presence, hash) = (self.presence_key(session_id), self.members_key(session_id));
        let expires = now_ms() + ttl.as_millis() as i64;
        // Keys of a session that every process left vanish by themselves.
        let keep = (ttl.as_millis() as i64 * 4).max(60_000);
        let mut conn = self.inner.conn.clone();
        let (added,): (i64,) = bounded(
            "presence",
            redis::pipe()
                .atomic()
                .cmd("ZADD")
                .arg(&presence)
                .arg(expires)
                .arg(&self.inner.process)
                .cmd("HSET")
                .arg(&hash)
                .arg(&self.inner.process)
                .arg(members)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&presence)
                .arg(keep)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&hash)
                .arg(keep)
                .ignore()
                .query_async(&mut conn),
        )
        .await?;
        Ok(added > 0)
    }

    /// Removes this process's entry in a session (it has no members there any more).
    pub async fn remove_presence(&self, session_id: i64) -> Result<(), BackplaneError> {
        let mut conn = self.inner.conn.clone();
        bounded(
            "presence",
            redis::pipe()
                .atomic()
                .cmd("ZREM")
                .arg(self.presence_key(session_id))
                .arg(&self.inner.process)
                .ignore()
                .cmd("HDEL")
                .arg(self.members_key(session_id))
                .arg(&self.inner.process)
                .ignore()
                .query_async::<()>(&mut conn),
        )
        .await
    }

    /// The members of every other process whose entry in the session has not expired.
    pub async fn read_presence(
        &self,
        session_id: i64,
    ) -> Result<Vec<ProcessMembers>, BackplaneError> {
        let mut conn = self.inner.conn.clone();
        let (live, all): (Vec<String>, HashMap<String, String>) = bounded(
            "presence",
            redis::pipe()
                .cmd("ZRANGEBYSCORE")
                .arg(self.presence_key(session_id))
                .arg(now_ms())
                .arg("+inf")
                .cmd("HGETALL")
                .arg(self.members_key(session_id))
                .query_async(&mut conn),
        )
        .await?;
        let mut found: Vec<ProcessMembers> = live
            .into_iter()
            .filter(|p| *p != self.inner.process)
            .filter_map(|process| {
                let members = all.get(&process)?.clone();
                Some(ProcessMembers { process, members })
            })
            .collect();
        found.sort_by(|a, b| a.process.cmp(&b.process));
        Ok(found)
    }

    /// Removes the entries of processes that stopped refreshing them; the processes this call
    /// removed (every other caller gets none of them, so one process announces each leave).
    pub async fn reap_presence(&self, session_id: i64) -> Result<Vec<String>, BackplaneError> {
        let mut conn = self.inner.conn.clone();
        bounded(
            "presence",
            redis::Script::new(REAP)
                .key(self.presence_key(session_id))
                .key(self.members_key(session_id))
                .arg(now_ms())
                .invoke_async(&mut conn),
        )
        .await
    }
}

impl Inner {
    fn handler(&self, channel: &str) -> Option<Handler> {
        self.handlers
            .lock()
            .ok()?
            .get(channel)
            .map(|(_, h)| h.clone())
    }

    fn all_handlers(&self) -> Vec<Handler> {
        self.handlers
            .lock()
            .map(|h| h.values().map(|(_, h)| h.clone()).collect())
            .unwrap_or_default()
    }

    fn pushed(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message => {
                let mut data = push.data.into_iter();
                let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                    return;
                };
                let (Some(channel), Some(payload)) = (text(channel), text(payload)) else {
                    log::warn!("backplane: a message that is not text; ignored");
                    return;
                };
                if let Some(handler) = self.handler(&channel) {
                    handler(Inbound::Message(payload));
                }
            }
            PushKind::Disconnection => self.went_down("the connection to Redis was lost"),
            _ => {}
        }
    }

    /// Marks the backplane down (logged once per outage).
    fn went_down(&self, why: &str) {
        if self.closing.load(Ordering::Acquire) {
            log::debug!("backplane: connection ended while shutting down ({why})");
            return;
        }
        if let Ok(mut problem) = self.problem.lock() {
            if self.up.swap(false, Ordering::AcqRel) {
                log::error!(
                    "backplane: Redis is unavailable ({why}); serving this process's members \
                     from the database alone until it is back"
                );
            }
            *problem = Some(why.to_string());
        }
    }

    /// Pings Redis; coming back up resubscribes every channel and tells every handler to resync.
    async fn check(&self) {
        let mut conn = self.conn.clone();
        let ping = bounded("PING", redis::cmd("PING").query_async::<String>(&mut conn)).await;
        match ping {
            Ok(_) if !self.up.load(Ordering::Acquire) => {
                let channels: Vec<String> = self
                    .handlers
                    .lock()
                    .map(|h| h.keys().cloned().collect())
                    .unwrap_or_default();
                for channel in &channels {
                    if let Err(e) = bounded("SUBSCRIBE", conn.subscribe(channel)).await {
                        self.went_down(&e.to_string());
                        return;
                    }
                }
                let was_connected_before = self.ever_up.swap(true, Ordering::AcqRel);
                if let Ok(mut problem) = self.problem.lock() {
                    *problem = None;
                }
                self.up.store(true, Ordering::Release);
                if was_connected_before {
                    log::info!(
                        "backplane: Redis is back; {} live session(s) reload and resync",
                        channels.len()
                    );
                } else {
                    log::info!("backplane: connected to Redis as process {}", self.process);
                }
                for handler in self.all_handlers() {
                    handler(Inbound::Resync);
                }
            }
            Ok(_) => {}
            Err(e) => self.went_down(&e.to_string()),
        }
    }
}

/// Pings Redis every [`PING_UP`] (every [`PING_DOWN`] while it is down) until the backplane is
/// dropped.
async fn watch(inner: Weak<Inner>) {
    loop {
        let period = match inner.upgrade() {
            Some(inner) if inner.up.load(Ordering::Acquire) => PING_UP,
            Some(_) => PING_DOWN,
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closing.load(Ordering::Acquire) {
            return;
        }
        inner.check().await;
    }
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        Value::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}
