//! The bound on a socket's unsent output, so a client that stops reading cannot slow its
//! session or fill the server's memory.
//!
//! A socket's frames wait in its `Participant`'s mailbox and context until the connection takes
//! them, and the connection takes them only as fast as the client reads: the actor is driven by
//! the connection, so a stalled client stalls its actor too. The session therefore counts what
//! it hands each socket ([`Outbox::queued`]) and the response body ([`CountedBody`]) counts
//! what the connection takes; past the bound the session drops the member and marks the outbox
//! closed, and the body then sends a close frame with 1013 instead of the backlog.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use futures_util::Stream;

/// The close code for a client that does not read (PROTOCOL.md "Close codes").
pub const CLOSE_NOT_READING: u16 = 1013;

/// What one socket has been handed and not yet sent; shared by its session and its body.
#[derive(Debug)]
pub struct Outbox {
    limit: usize,
    unsent: AtomicUsize,
    overflowed: AtomicBool,
}

impl Outbox {
    /// An empty outbox that overflows past `limit` unsent bytes.
    pub fn new(limit: usize) -> Self {
        Outbox {
            limit,
            unsent: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
        }
    }

    /// Counts a frame handed to the socket; false when that puts the socket past its bound (it
    /// is then marked overflowed, and the caller stops sending to it). A socket with nothing
    /// unsent always takes the frame, however large: the bound is on what waits, not on size.
    pub fn queued(&self, bytes: usize) -> bool {
        let before = self.unsent.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.limit {
            self.overflowed.store(true, Ordering::Release);
            return false;
        }
        true
    }

    /// Counts bytes the connection took (frames the socket made itself, such as pongs, count
    /// too, so the figure errs towards less unsent, never more).
    fn sent(&self, bytes: usize) {
        let _ = self
            .unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(bytes))
            });
    }

    /// Whether the socket went past its bound.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Bytes handed over and not yet taken by the connection.
    pub fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }
}

/// A WebSocket close frame from the server (unmasked): code and reason.
fn close_frame(code: u16, reason: &str) -> Bytes {
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    let mut frame = Vec::with_capacity(4 + reason.len());
    frame.push(0x88); // FIN + opcode 8 (close)
    frame.push((2 + reason.len()) as u8);
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason);
    Bytes::from(frame)
}

/// The response body of a socket: the context's output, counted; once the outbox overflowed,
/// a 1013 close frame and the end, whatever was still waiting.
pub struct CountedBody<S> {
    inner: S,
    outbox: std::sync::Arc<Outbox>,
    done: bool,
}

impl<S> CountedBody<S> {
    pub fn new(inner: S, outbox: std::sync::Arc<Outbox>) -> Self {
        CountedBody {
            inner,
            outbox,
            done: false,
        }
    }
}

impl<S, E> Stream for CountedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.outbox.overflowed() {
            self.done = true;
            return Poll::Ready(Some(Ok(close_frame(
                CLOSE_NOT_READING,
                "not reading: too much unsent output",
            ))));
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &polled {
            self.outbox.sent(bytes.len());
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflows_past_the_limit_and_counts_what_was_sent() {
        let outbox = Outbox::new(100);
        assert!(outbox.queued(60));
        outbox.sent(50);
        assert_eq!(outbox.unsent(), 10);
        assert!(outbox.queued(90), "100 unsent is still within the bound");
        assert!(!outbox.overflowed());
        assert!(!outbox.queued(1));
        let idle = Outbox::new(100);
        assert!(
            idle.queued(5000),
            "one large frame to a socket with nothing unsent"
        );
        assert!(!idle.queued(1), "but nothing after it until it is sent");
        assert!(outbox.overflowed());
        outbox.sent(1000);
        assert_eq!(outbox.unsent(), 0, "never below zero");
    }

    #[test]
    fn the_close_frame_carries_the_code() {
        let frame = close_frame(1013, "slow");
        assert_eq!(&frame[..], &[0x88, 6, 0x03, 0xF5, b's', b'l', b'o', b'w']);
    }
}
