//! The other server processes, as this one sees them: a [`Cluster`] publishes what this process
//! committed and knows whether the backplane (Redis, `REDIS_URL`) is there and up. Without
//! `REDIS_URL` the process is alone and every call here does nothing.

use std::time::Duration;

use poker_backplane::Backplane;

use super::change::{Envelope, SessionChange};
use super::messages::Changed;
use crate::metrics;

/// How often a live session compares its version with the database's while Redis is down,
/// when polling is how changes of other processes arrive. (While it is up: `VERSION_CHECK_SECS`,
/// which catches a last message that was lost; a lost message before another is caught by the
/// gap.)
pub const VERSION_POLL_DOWN: Duration = Duration::from_secs(1);
/// How long a session waits for a change that should have come before one it received (two
/// processes may publish in the opposite order to their commits) before it reloads instead.
pub const GAP_WAIT: Duration = Duration::from_millis(500);

/// This process among the others; cheap to clone.
#[derive(Clone, Default)]
pub struct Cluster {
    backplane: Option<Backplane>,
    version_check: Duration,
}

impl Cluster {
    /// A process alone (no `REDIS_URL`).
    pub fn alone() -> Cluster {
        Cluster::default()
    }

    /// Sharing sessions through `backplane`; versions are checked every `version_check`.
    pub fn shared(backplane: Backplane, version_check: Duration) -> Cluster {
        Cluster {
            backplane: Some(backplane),
            version_check,
        }
    }

    pub fn backplane(&self) -> Option<&Backplane> {
        self.backplane.as_ref()
    }

    /// The process is shutting down (after its members were taken out of every session).
    pub fn close(&self) {
        if let Some(backplane) = &self.backplane {
            backplane.close();
        }
    }

    /// Whether other processes may share sessions with this one.
    pub fn is_shared(&self) -> bool {
        self.backplane.is_some()
    }

    /// This process's name on the backplane (empty when alone).
    pub fn process(&self) -> &str {
        self.backplane.as_ref().map_or("", |b| b.process())
    }

    /// Why other processes cannot be reached right now, if the process shares and cannot.
    pub fn problem(&self) -> Option<String> {
        let backplane = self.backplane.as_ref()?;
        if backplane.is_up() {
            None
        } else {
            Some(
                backplane
                    .problem()
                    .unwrap_or_else(|| "Redis is down".into()),
            )
        }
    }

    /// How often a live session should compare its version with the database's; `None` when
    /// alone (every writer is in this process).
    pub fn version_check_every(&self) -> Option<Duration> {
        let backplane = self.backplane.as_ref()?;
        Some(if backplane.is_up() {
            self.version_check
        } else {
            VERSION_POLL_DOWN
        })
    }

    /// Publishes a committed change of a session to the other processes (in the background;
    /// one that misses it catches up by its version check).
    pub fn publish_change(&self, session: i64, version: i64, change: &SessionChange) {
        let Some(backplane) = &self.backplane else {
            return;
        };
        let envelope = Envelope::Change {
            origin: backplane.process().to_string(),
            session,
            version,
            change: change.clone(),
        };
        self.publish(backplane.session_channel(session), envelope);
    }

    /// Tells the other processes that this one's members of a session changed (stored first).
    pub fn publish_presence(&self, session: i64) {
        if let Some(backplane) = &self.backplane {
            let envelope = Envelope::Presence {
                origin: backplane.process().to_string(),
                session,
            };
            self.publish(backplane.session_channel(session), envelope);
        }
    }

    pub fn publish_deleted(&self, session: i64) {
        if let Some(backplane) = &self.backplane {
            let envelope = Envelope::Deleted {
                origin: backplane.process().to_string(),
                session,
            };
            self.publish(backplane.session_channel(session), envelope);
        }
    }

    pub fn publish_users(&self, change: &Changed) {
        if let Some(backplane) = &self.backplane {
            let envelope = Envelope::Users {
                origin: backplane.process().to_string(),
                change: change.clone(),
            };
            self.publish(backplane.all_channel(), envelope);
        }
    }

    /// Takes this process's members out of a session and tells the others, before it returns
    /// (bounded by the backplane's timeout): for a process shutting down.
    pub async fn leave_now(self, session: i64) {
        let Some(backplane) = &self.backplane else {
            return;
        };
        if !backplane.is_up() {
            return;
        }
        if let Err(e) = backplane.remove_presence(session).await {
            log::debug!("session {session}: presence not removed: {e}");
            return;
        }
        let envelope = Envelope::Presence {
            origin: backplane.process().to_string(),
            session,
        };
        let published = backplane
            .publish(&backplane.session_channel(session), &envelope.encode())
            .await;
        metrics::backplane_published(published.is_ok());
    }

    fn publish(&self, channel: String, envelope: Envelope) {
        let Some(backplane) = self.backplane.clone() else {
            return;
        };
        let payload = envelope.encode();
        actix_web::rt::spawn(async move {
            let result = backplane.publish(&channel, &payload).await;
            metrics::backplane_published(result.is_ok());
            if let Err(e) = result {
                log::debug!("backplane: not published on {channel}: {e}");
            }
        });
    }
}

/// A name for this process on the backplane, unique among processes sharing one Redis: its
/// `INSTANCE_NAME` (the host's name by default), the process id and a random part (a restarted container keeps its name and may
/// get the same pid).
pub fn process_name(instance: &str) -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{instance}-{}-{random}", std::process::id())
}
