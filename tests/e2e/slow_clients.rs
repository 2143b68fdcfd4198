//! Slowloris over raw TCP: a client that sends its request head a byte at a time, or its body a
//! byte at a time, is cut off within a bound (the head within about 5 s, the body within 10 s)
//! while other clients are served normally meanwhile.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, Server};

both_backends!(
    a_head_sent_byte_by_byte_is_cut_off_while_others_are_served,
    a_body_sent_byte_by_byte_is_cut_off_with_408,
);

/// How a trickling connection ended.
#[derive(Debug)]
struct Ending {
    /// Everything the server sent (empty if it only closed).
    answer: String,
    /// From the first byte sent to the end of the connection.
    after: Duration,
    /// How many bytes of the trickle went out before that.
    bytes_sent: usize,
}

/// Sends `head` at once, then `trickle` one byte every 300 ms, until the server closes the
/// connection (or `give_up` passes); reads whatever the server answers meanwhile.
async fn trickle(server: &Server, head: &str, trickle: &str, give_up: Duration) -> Ending {
    let stream = TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .expect("connect over TCP");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let head = head.as_bytes().to_vec();
    let trickle = trickle.as_bytes().to_vec();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sending = tokio::spawn(async move {
        let mut sent = 0;
        if !head.is_empty() && writer.write_all(&head).await.is_err() {
            return sent;
        }
        for byte in trickle {
            if *stopped.borrow() || writer.write_all(&[byte]).await.is_err() {
                return sent;
            }
            sent += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stopped.changed() => return sent,
            }
        }
        sent
    });
    let mut answer = Vec::new();
    let reading = tokio::time::timeout(give_up, async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    // The answer is what counts; stop sending so no reset can overtake it.
                    let _ = stop.send(true);
                }
            }
        }
    })
    .await;
    let after = started.elapsed();
    let _ = stop.send(true);
    assert!(
        reading.is_ok(),
        "the server did not cut the connection within {give_up:?}; it sent {:?}",
        String::from_utf8_lossy(&answer)
    );
    let bytes_sent = sending.await.expect("the sending task ends");
    Ending {
        answer: String::from_utf8_lossy(&answer).into_owned(),
        after,
        bytes_sent,
    }
}

async fn a_head_sent_byte_by_byte_is_cut_off_while_others_are_served(backend: Backend) {
    let server = Server::start(backend).await;
    let line = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100)
    );
    let slow = trickle(&server, "", &line, Duration::from_secs(10));
    let others = async {
        // While the slow head is on its way, an ordinary client is served as usual.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let http = server.http();
        for _ in 0..5 {
            let asked = Instant::now();
            http.get("/healthz")
                .await
                .expect_status(200, "GET /healthz beside the slow client");
            http.get("/api/auth/me")
                .await
                .expect_error(401, "GET /api/auth/me beside the slow client");
            assert!(
                asked.elapsed() < Duration::from_secs(1),
                "{:?}",
                asked.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let (ending, ()) = tokio::join!(slow, others);
    assert!(
        ending.after < Duration::from_millis(6500),
        "the slow head is cut off within about 5 s: {ending:?}"
    );
    assert!(
        ending.after > Duration::from_secs(3),
        "the cut comes from the head timeout, not at once: {ending:?}"
    );
    assert!(
        ending.answer.is_empty() || ending.answer.starts_with("HTTP/1.1 408"),
        "the slow head gets 408 or a closed connection: {ending:?}"
    );
    assert!(ending.bytes_sent < line.len(), "{ending:?}");
}

async fn a_body_sent_byte_by_byte_is_cut_off_with_408(backend: Backend) {
    let server = Server::start(backend).await;
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let body = format!(
        "{{\"username\": \"admin\", \"password\": \"{}\"}}",
        "x".repeat(950)
    );
    let slow = trickle(&server, head, &body, Duration::from_secs(15));
    let others = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let http = server.http();
        for _ in 0..5 {
            http.get("/healthz")
                .await
                .expect_status(200, "GET /healthz beside the slow body");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Logging in works meanwhile too.
        server.admin().await;
    };
    let (ending, ()) = tokio::join!(slow, others);
    assert!(
        ending.answer.starts_with("HTTP/1.1 408"),
        "a body that does not arrive within 10 s gets 408: {ending:?}"
    );
    assert!(
        ending.answer.contains("request_timeout"),
        "the 408 is in the usual error format: {ending:?}"
    );
    assert!(
        ending.after < Duration::from_secs(12) && ending.after > Duration::from_secs(9),
        "the body is cut off at its 10 s bound: {ending:?}"
    );
}
