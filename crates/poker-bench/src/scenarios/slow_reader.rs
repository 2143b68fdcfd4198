//! `slow-reader`: the fan-out twice on one server, first as usual, then with a socket in every
//! session whose client never reads. The voters' latency should not move: a client that stops
//! reading must not slow its session. At the end each slow socket is read to see how the
//! server ended it (1013 from a server that bounds unsent output).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::{activate, connect_all, vote, Counters, VotingResult};
use crate::stats::Latencies;
use crate::target::Target;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Config {
    pub sessions: usize,
    pub participants: usize,
    pub interval_ms: u64,
    pub duration_secs: u64,
    /// Size of the story's description: every `story_changed` is at least this large, so a
    /// client that does not read falls behind by this much per vote.
    pub description_bytes: usize,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The fan-out with every client reading.
    pub steady: VotingResult,
    /// The same, with one client per session that never reads.
    pub with_slow_readers: VotingResult,
    pub slow_readers: usize,
    /// Slow sockets the server closed with 1013 (read after the run).
    pub closed_1013: usize,
    /// Slow sockets whose connection was reset or ended without a close frame (the kernel
    /// gives up on a client that reads nothing for the server's `TCP_USER_TIMEOUT`).
    #[serde(default)]
    pub reset: usize,
    /// Slow sockets still open, with frames waiting, after the run.
    pub still_open: usize,
}

/// A socket that is connected and then never read, with a small receive buffer so the server
/// soon has output it cannot send.
type Idle =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_slow(url: &str) -> Result<Idle> {
    let request = crate::client::request(url)?;
    let parsed = url::Url::parse(url).context("the socket URL")?;
    let addr = tokio::net::lookup_host((
        parsed.host_str().context("a host")?,
        parsed.port_or_known_default().context("a port")?,
    ))
    .await?
    .next()
    .context("an address")?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let stream = socket.connect(addr).await?;
    let (ws, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .context("the slow reader's handshake")?;
    Ok(ws)
}

/// Reads what a slow socket got and how it ended: `Some(Some(code))` for a close frame,
/// `Some(None)` for a connection that ended without one, `None` if it is still open.
async fn ending(mut ws: Idle) -> Option<Option<u16>> {
    let read = async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(close)) => return Some(close.map(|c| u16::from(c.code))),
                Ok(_) => {}
                Err(_) => return Some(None),
            }
        }
        Some(None)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or(None)
}

pub async fn run(target: &Target, config: &Config) -> Result<Outcome> {
    let users = target.users(config.participants, true).await?;
    let plans = target.sessions(config.sessions, &users).await?;
    for plan in &plans {
        target
            .describe_story(plan.story_id, config.description_bytes)
            .await?;
    }
    let slow_users = target.users(config.sessions, false).await?;
    let counters = Arc::new(Counters::default());
    let mut connect_times = Latencies::new();
    let urls: Vec<String> = plans
        .iter()
        .zip(&slow_users)
        .map(|(plan, slow)| target.ws_url(plan.id, slow))
        .collect();
    let sessions = connect_all(
        target,
        plans,
        &counters,
        Some(Duration::from_secs(20)),
        64,
        &mut connect_times,
    )
    .await?;
    activate(&sessions, &counters).await?;
    let sessions = Arc::new(sessions);
    let interval = Duration::from_millis(config.interval_ms);
    let duration = Duration::from_secs(config.duration_secs);
    let steady = vote(
        &sessions,
        &counters,
        interval,
        duration,
        Duration::from_secs(5),
    )
    .await;

    let mut slow = Vec::new();
    for url in &urls {
        slow.push(connect_slow(url).await?);
    }
    // Let the joins settle before measuring again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_slow_readers = vote(
        &sessions,
        &counters,
        interval,
        duration,
        Duration::from_secs(5),
    )
    .await;

    let endings = futures_util::future::join_all(slow.into_iter().map(ending)).await;
    let closed_1013 = endings.iter().filter(|e| **e == Some(Some(1013))).count();
    let still_open = endings.iter().filter(|e| e.is_none()).count();
    let reset = endings.len() - closed_1013 - still_open;
    Ok(Outcome {
        steady,
        with_slow_readers,
        slow_readers: urls.len(),
        closed_1013,
        reset,
        still_open,
    })
}
