//! The live part: one [`participant::Participant`] actor per WebSocket, one
//! [`session::PokerSession`] actor per poker session with people in it, and the
//! [`registry::SessionRegistry`] that starts and stops session actors.

pub mod change;
pub mod cluster;
pub mod frames;
pub mod messages;
pub mod outbox;
pub mod participant;
pub mod presence;
pub mod registry;
pub mod session;
#[cfg(test)]
mod testing;

use std::time::Duration;

/// Timings and URLs the live actors need.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// A socket silent for this long is closed.
    pub client_timeout: Duration,
    /// How often the server pings each socket.
    pub ping_interval: Duration,
    /// Where `poker_session_ended` sends everyone.
    pub end_redirect_url: String,
    /// Unsent output a socket may have before it is closed with 1013.
    pub socket_backlog_bytes: usize,
    /// Where the changes this process commits fire webhook events.
    pub webhooks: crate::webhooks::Webhooks,
}

impl LiveConfig {
    /// How often a session looks for silent sockets.
    pub fn sweep_interval(&self) -> Duration {
        (self.client_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    /// How often a participant reports bare liveness (pongs, heartbeats) to its session.
    pub fn touch_interval(&self) -> Duration {
        (self.client_timeout / 6).min(Duration::from_secs(5))
    }
}

/// The name of a quick round's story when the client gives none: the server's local time (set
/// `TZ` for the team's time zone), e.g. `Quick round 14:05`.
pub fn quick_round_name() -> String {
    format!("Quick round {}", chrono::Local::now().format("%H:%M"))
}
