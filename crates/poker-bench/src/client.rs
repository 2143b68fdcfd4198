//! One benchmark WebSocket connection: a reader that hands every frame to a callback, and a
//! writer fed through a channel.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// The subprotocol that gets the server's (ours) events (`stories_changed`, `error`), as its
/// own web UI asks for it; the baseline agrees to it too.
pub const SUBPROTOCOL: &str = "poker.v2";

/// The handshake request for a socket URL, offering [`SUBPROTOCOL`].
pub fn request(url: &str) -> Result<Request> {
    let mut request = url
        .into_client_request()
        .with_context(|| format!("the socket URL {url}"))?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(request)
}

/// A connected socket: send text frames through `tx`; dropping it closes the socket.
pub struct Conn {
    pub tx: mpsc::UnboundedSender<String>,
    /// How long the handshake took.
    pub connect_time: Duration,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Conn {
    /// Connects and starts reading; `on_frame(text, received_at)` runs for every text frame.
    /// With `heartbeat`, a `heartbeat` event is sent that often.
    pub async fn open<F>(url: &str, heartbeat: Option<Duration>, mut on_frame: F) -> Result<Conn>
    where
        F: FnMut(&str, Instant) + Send + 'static,
    {
        let started = Instant::now();
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request(url)?, None, true)
            .await
            .with_context(|| format!("connect {url}"))?;
        let connect_time = started.elapsed();
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(async move {
            let mut beat = heartbeat
                .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
            loop {
                let next = async {
                    match beat.as_mut() {
                        Some(b) => {
                            b.tick().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    text = rx.recv() => match text {
                        Some(text) => if sink.send(Message::text(text)).await.is_err() { break },
                        None => { let _ = sink.close().await; break }
                    },
                    _ = next => if sink.send(Message::text(r#"{"event":"heartbeat"}"#)).await.is_err() { break },
                }
            }
        });
        let reader = tokio::spawn(async move {
            while let Some(message) = stream.next().await {
                match message {
                    Ok(Message::Text(text)) => on_frame(text.as_str(), Instant::now()),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        Ok(Conn {
            tx,
            connect_time,
            reader,
            writer,
        })
    }

    /// Sends a client event.
    pub fn send(&self, event: &str, data: serde_json::Value) -> bool {
        self.tx
            .send(serde_json::json!({"event": event, "data": data}).to_string())
            .is_ok()
    }

    /// Whether the socket is still open.
    pub fn is_open(&self) -> bool {
        !self.reader.is_finished()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}
