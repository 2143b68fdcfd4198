//! The poker-bench binary: a short run against its baseline prints the table and writes JSON;
//! a target off this machine is refused before any traffic is sent.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_poker-bench");

#[test]
fn a_short_fanout_against_the_baseline_prints_a_table_and_writes_json() {
    let dir = std::env::temp_dir().join(format!("poker-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("fanout.json");
    let out = Command::new(BIN)
        .args([
            "--against",
            "baseline",
            "--max-runtime-secs",
            "120",
            "--json",
        ])
        .arg(&json)
        .args([
            "fanout",
            "--sessions",
            "2",
            "--participants",
            "3",
            "--interval-ms",
            "250",
            "--duration-secs",
            "2",
            "--runs",
            "2",
        ])
        .output()
        .expect("run poker-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "poker-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("whole-session latency p99 (ms)"),
        "the table is printed: {stdout}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON file is written"))
            .expect("valid JSON");
    assert!(
        stdout.contains("secret votes off"),
        "the header says how secrecy is treated: {stdout}"
    );
    assert_eq!(doc["secret_votes"], false);
    let runs = doc["runs"].as_array().expect("every run is written");
    assert_eq!(runs.len(), 2);
    for run in runs {
        let voting = &run["baseline"]["voting"];
        assert!(voting["votes_sent"].as_u64().unwrap_or(0) > 0, "{doc}");
        assert_eq!(voting["votes_delivered"], voting["votes_sent"], "{doc}");
        assert!(run["server"].is_null());
        assert!(
            run["baseline"]["cpu_ms_per_vote"].as_f64().is_some(),
            "{doc}"
        );
    }
    let p99 = doc["summary"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["figure"] == "whole-session latency p99 (ms)")
        })
        .expect("a summary row for the p99");
    assert!(p99["baseline"]["median"].as_f64().is_some(), "{p99}");
    assert!(p99["ratio"].is_null(), "no server, no ratio: {p99}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_help_says_how_vote_secrecy_is_treated_and_what_database_url_does() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run poker-bench");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("secret_votes: false"), "{help}");
    assert!(help.contains("fresh database"), "{help}");
    for scenario in ["fanout", "ramp", "rest-under-load", "logins"] {
        assert!(help.contains(scenario), "{scenario} listed: {help}");
    }
    let out = Command::new(BIN)
        .args(["fanout", "--help"])
        .output()
        .expect("run poker-bench");
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--jitter", "--moderator-votes", "--runs", "--rest-rate"] {
        assert!(help.contains(option), "{option}: {help}");
    }
    assert!(help.contains("secret_votes: false"), "{help}");
}

#[test]
fn logins_refuse_the_baseline_which_has_no_accounts() {
    let out = Command::new(BIN)
        .args(["--against", "baseline", "logins", "--users", "1"])
        .output()
        .expect("run poker-bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no accounts"), "{stderr}");
}

#[test]
fn targets_off_this_machine_are_refused() {
    let out = Command::new(BIN)
        .args([
            "--against",
            "server",
            "--server-url",
            "http://10.1.2.3:8000",
            "fanout",
            "--duration-secs",
            "1",
        ])
        .output()
        .expect("run poker-bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only targets loopback"), "{stderr}");
}
