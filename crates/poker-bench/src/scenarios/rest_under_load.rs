//! `rest-under-load`: the fan-out twice on one server in one invocation, first without REST
//! traffic, then with a REST client reading `GET /api/sessions/{id}` at a fixed rate. The
//! fan-out's whole-session p99 should move by at most 10 % (issue 10); the REST latency is
//! reported beside it. Both phases use the same sessions, sockets and voting pattern.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::check_persisted;
use super::fanout::{self, Phase};
use crate::target::{Kind, Target};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// The fan-out of each phase; its `rest_rate` is the second phase's REST rate.
    pub fanout: fanout::Config,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The fan-out without REST traffic.
    pub quiet: Phase,
    /// The same fan-out with the REST client running.
    pub loaded: Phase,
    /// Whole-session p99 with REST ÷ without.
    pub p99_ratio: Option<f64>,
    /// Whole-session p50 with REST ÷ without.
    pub p50_ratio: Option<f64>,
    /// Voters whose last vote is stored as sent, of all voters (real server only).
    pub persisted: Option<(u64, u64)>,
}

pub async fn run(
    target: &Target,
    config: &Config,
    cpu: impl Fn() -> Option<f64>,
) -> Result<Outcome> {
    let prepared = fanout::prepare(target, &config.fanout, &|| None).await?;
    let quiet = fanout::phase(target, &prepared, &config.fanout, 0.0, &cpu).await;
    let loaded = fanout::phase(
        target,
        &prepared,
        &config.fanout,
        config.fanout.rest_rate,
        &cpu,
    )
    .await;
    let ratio = |f: fn(&Phase) -> f64| {
        let (a, b) = (f(&quiet), f(&loaded));
        (a > 0.0).then(|| b / a)
    };
    let p99_ratio = ratio(|p| p.voting.whole_session.p99);
    let p50_ratio = ratio(|p| p.voting.whole_session.p50);
    let persisted = if target.kind == Kind::Server {
        Some(check_persisted(target, &prepared.sessions).await?)
    } else {
        None
    };
    if let Some(rest) = &loaded.rest {
        eprintln!(
            "  without REST: whole-session p50 {:.2} ms, p99 {:.2} ms; with {} REST req/s: p50 {:.2} ms, p99 {:.2} ms; REST p99 {:.2} ms, {} ok, {} errors",
            quiet.voting.whole_session.p50,
            quiet.voting.whole_session.p99,
            rest.rate,
            loaded.voting.whole_session.p50,
            loaded.voting.whole_session.p99,
            rest.latency.p99,
            rest.ok,
            rest.errors
        );
    }
    Ok(Outcome {
        quiet,
        loaded,
        p99_ratio,
        p50_ratio,
        persisted,
    })
}
