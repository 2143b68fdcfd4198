//! The human table: each figure for the baseline and the real server, and their ratio.

use serde::Serialize;

use crate::scenarios::VotingResult;
use crate::stats::Percentiles;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub figure: String,
    pub baseline: Option<f64>,
    pub server: Option<f64>,
}

impl Row {
    pub fn new(figure: impl Into<String>, baseline: Option<f64>, server: Option<f64>) -> Self {
        Row {
            figure: figure.into(),
            baseline,
            server,
        }
    }

    /// server ÷ baseline, where both exist.
    pub fn ratio(&self) -> Option<f64> {
        match (self.baseline, self.server) {
            (Some(b), Some(s)) if b > 0.0 => Some(s / b),
            _ => None,
        }
    }
}

fn cell(v: Option<f64>) -> String {
    match v {
        None => "—".to_string(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// Prints rows as an aligned table.
pub fn print(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "{:<52} {:>12} {:>12} {:>10}",
        "figure", "baseline", "server", "ratio"
    );
    println!("{}", "-".repeat(89));
    for row in rows {
        let ratio = row.ratio().map_or("—".to_string(), |r| format!("{r:.2}×"));
        println!(
            "{:<52} {:>12} {:>12} {:>10}",
            row.figure,
            cell(row.baseline),
            cell(row.server),
            ratio
        );
    }
}

/// Rows for a latency distribution.
pub fn percentile_rows(name: &str, b: Option<&Percentiles>, s: Option<&Percentiles>) -> Vec<Row> {
    let pick = |f: fn(&Percentiles) -> f64| (b.map(f), s.map(f));
    [
        ("p50", pick(|p| p.p50)),
        ("p90", pick(|p| p.p90)),
        ("p99", pick(|p| p.p99)),
        ("p99.9", pick(|p| p.p999)),
        ("max", pick(|p| p.max)),
    ]
    .into_iter()
    .map(|(q, (b, s))| Row::new(format!("{name} {q} (ms)"), b, s))
    .collect()
}

/// Rows for a voting period.
pub fn voting_rows(b: Option<&VotingResult>, s: Option<&VotingResult>) -> Vec<Row> {
    let mut rows = percentile_rows(
        "per-recipient latency",
        b.map(|v| &v.per_recipient),
        s.map(|v| &v.per_recipient),
    );
    rows.extend(percentile_rows(
        "whole-session latency",
        b.map(|v| &v.whole_session),
        s.map(|v| &v.whole_session),
    ));
    let pick = |f: fn(&VotingResult) -> f64| (b.map(f), s.map(f));
    for (name, (b, s)) in [
        ("votes sent per second", pick(|v| v.votes_sent_per_sec)),
        (
            "votes delivered per second",
            pick(|v| v.votes_delivered_per_sec),
        ),
        ("frames received per second", pick(|v| v.frames_per_sec)),
        ("votes sent", pick(|v| v.votes_sent as f64)),
        (
            "votes not delivered to everyone",
            pick(|v| v.votes_undelivered as f64),
        ),
        ("error frames", pick(|v| v.errors as f64)),
    ] {
        rows.push(Row::new(name, b, s));
    }
    rows
}

/// KiB → MiB.
pub fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_needs_both_and_a_nonzero_baseline() {
        assert_eq!(Row::new("x", Some(2.0), Some(3.0)).ratio(), Some(1.5));
        assert_eq!(Row::new("x", None, Some(3.0)).ratio(), None);
        assert_eq!(Row::new("x", Some(0.0), Some(3.0)).ratio(), None);
    }
}
