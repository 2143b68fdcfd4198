//! `GET /metrics`: Prometheus text format with the names of PROTOCOL.md section 4, whose values
//! move during a short session, checked with Prometheus's own `promtool check metrics`.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{start_story, Backend, Rights, Server};

both_backends!(metrics_move_during_a_session_and_pass_promtool);

/// Samples of a scrape: `name{labels}` as written, to value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample named `name` whose labels include every `labels` pair (0 if none).
fn value(samples: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(key, _)| {
            let (key_name, rest) = key.split_once('{').unwrap_or((key.as_str(), ""));
            key_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .sum()
}

/// Runs `promtool check metrics` on a scrape; panics with its complaints.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool is installed (scripts/ensure-deps.sh installs Debian's `prometheus` package)",
        );
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the scrape ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(server: &Server) -> String {
    let response = reqwest::get(format!("{}/metrics", server.base_url()))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text format: {content_type}"
    );
    response.text().await.expect("the scrape's text")
}

async fn metrics_move_during_a_session_and_pass_promtool(backend: Backend) {
    let server = Server::start(backend).await;
    let before_text = scrape(&server).await;
    promtool_check(&before_text);
    let before = samples(&before_text);
    for name in [
        "poker_sockets_open",
        "poker_sessions_live",
        "poker_frames_in_total",
        "poker_frames_out_total",
    ] {
        assert!(
            before_text.contains(&format!("# TYPE {name} ")),
            "{name} is there from the start:\n{before_text}"
        );
    }

    let moderator = server.create_user("mo", Rights::Moderator).await;
    let voter = server.create_user("vera", Rights::Voter).await;
    let session = server.create_session("Metrics", &[("M-1", "")]).await;
    let mut clients = server
        .join_all(session.id, &[&moderator, &voter], None)
        .await;
    start_story(&mut clients, 0, session.stories[0].id).await;
    clients[1]
        .send_event("vote_submitted", json!({"choice": "5"}))
        .await;
    for client in clients.iter_mut() {
        client.expect_event("story_changed").await;
    }
    clients[1].send_event("reset_requested", json!({})).await;
    clients[1].expect_error("forbidden").await;
    clients[1].send_text("not json".into()).await;
    clients[1].expect_error("bad_request").await;

    let during_text = scrape(&server).await;
    promtool_check(&during_text);
    let during = samples(&during_text);
    assert_eq!(
        value(&during, "poker_sockets_open", &[]),
        2.0,
        "two sockets"
    );
    assert_eq!(
        value(&during, "poker_sessions_live", &[]),
        1.0,
        "one live session"
    );
    assert!(
        value(&during, "poker_frames_in_total", &[])
            >= value(&before, "poker_frames_in_total", &[]) + 4.0,
        "frames in counted"
    );
    assert!(
        value(&during, "poker_frames_out_total", &[])
            >= value(&before, "poker_frames_out_total", &[]) + 8.0,
        "frames out counted"
    );
    for (event, outcome, at_least) in [
        ("vote_submitted", "ok", 1.0),
        ("next_story_requested", "ok", 1.0),
        ("reset_requested", "forbidden", 1.0),
        ("none", "bad_request", 1.0),
    ] {
        assert!(
            value(
                &during,
                "poker_events_total",
                &[("event", event), ("outcome", outcome)]
            ) >= at_least,
            "poker_events_total{{event={event},outcome={outcome}}}:\n{during_text}"
        );
    }
    // Histograms are folded in every few seconds.
    let mut writes = 0.0;
    for _ in 0..40 {
        let text = scrape(&server).await;
        writes = value(&samples(&text), "poker_db_write_seconds_count", &[]);
        if writes >= 2.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(writes >= 2.0, "two live writes timed: {writes}");

    for client in clients {
        client.close().await;
    }
    let mut open = f64::NAN;
    for _ in 0..40 {
        open = value(&samples(&scrape(&server).await), "poker_sockets_open", &[]);
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0.0, "sockets closed");
}
