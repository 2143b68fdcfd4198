//! Issue 9's "done means" in real browsers: a newcomer opens the balancer's address in two
//! browsers, which land on different processes (the page's footer says which), and they
//! estimate together.
//!
//! The stack as deployed, on loopback: two server processes (`replica-1`, `replica-2`) on one
//! PostgreSQL database, sharing live sessions through the machine's Redis, behind Debian's
//! HAProxy running `deploy/haproxy.cfg`; two headless Chromiums that only ever use the
//! balancer's address. Round robin spreads every request, so which replica serves a page or
//! takes a page's socket depends on what else went through the balancer; the test reloads a
//! page (a bounded number of times) until the two pages were served by different replicas and
//! each replica holds exactly one of the two sockets, which it reads from each replica's own
//! `/metrics` (`poker_sockets_open`), not through the balancer.

use std::time::Duration;

use crate::support::balancer::stack;
use crate::support::browser::{
    open_session, story_points, wait_participants, wait_story, wait_votes,
};
use crate::support::cluster::{machine_redis, metric};
use crate::support::{Http, Rights, Server, ServerOptions};

/// How many reloads may be spent on spreading the two browsers over the two replicas.
const MAX_RELOADS: usize = 6;
/// How long a reloaded page's old socket may take to be gone from its replica's gauge.
const SOCKETS_SETTLE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(postgres_tests, redis_tests)),
    ignore = "TEST_DATABASE_URL and TEST_REDIS_URL not both set: the stack needs PostgreSQL and \
              Redis (and HAProxy and Chromium)"
)]
async fn two_browsers_on_different_replicas_estimate_together() {
    let options = ServerOptions {
        redis: Some(machine_redis()),
        ..ServerOptions::default()
    };
    let (app1, app2, balancer) = stack(options, &[]).await;
    let replicas = [&app1, &app2];
    let mia = app1.create_user("mia", Rights::VoterModerator).await;
    let vic = app1.create_user("vic", Rights::Voter).await;
    let session = app1
        .create_session(
            "Balanced sprint",
            &[
                ("LB-1", "Spread the load"),
                ("LB-2", "Keep in step"),
                ("LB-3", ""),
            ],
        )
        .await;
    let [first, second, _] = [0, 1, 2].map(|i| session.stories[i].label.clone());

    // Both log in at the balancer's address and open the session page.
    let base = balancer.base_url();
    let (moderator, voter) = tokio::join!(
        open_session(&base, &mia, session.id),
        open_session(&base, &vic, session.id),
    );
    let browsers = [&moderator, &voter];

    // Each page names its replica in the footer. Until the pages name different replicas and
    // each replica holds one socket, reload one page (the voter's, then the moderator's, in
    // turn), each time just after a request through the balancer went to the replica of the
    // other page, so that round robin sends the reloaded page to the other replica. Where its
    // socket lands depends on how many requests the page makes before opening it; once both
    // pages were loaded alike, the sockets follow the pages.
    let nudge = Http::new(base.clone(), None);
    let mut tries = Vec::new();
    let (pages, sockets) = loop {
        let sockets = settled_sockets(replicas, 2).await;
        let pages = [moderator.served_by().await, voter.served_by().await];
        tries.push(format!("pages {pages:?}, sockets {sockets:?}"));
        if pages[0] != pages[1] && sockets == [1, 1] {
            break (pages, sockets);
        }
        let reloads = tries.len() - 1;
        assert!(
            reloads < MAX_RELOADS,
            "the two browsers did not spread over both replicas in {MAX_RELOADS} reloads: \
             {tries:#?}"
        );
        let (browser, other_page) = if reloads % 2 == 0 {
            (&voter, &pages[0])
        } else {
            (&moderator, &pages[1])
        };
        after_a_request_to(&nudge, other_page).await;
        browser.reload().await;
        browser.wait_for("#conn[data-state=open]").await;
    };
    eprintln!(
        "spread after {} reload(s): {}",
        tries.len() - 1,
        tries.join("; ")
    );
    let mut names = pages.to_vec();
    names.sort();
    assert_eq!(
        names,
        ["replica-1", "replica-2"],
        "the footers name the two replicas"
    );
    for browser in browsers {
        browser.wait_text("footer.served-by", "Served by").await;
        wait_participants(browser, 2).await;
    }

    // They estimate together: the moderator starts the story, both vote, both see both votes.
    moderator.click("#start").await;
    for browser in browsers {
        wait_story(browser, &first).await;
    }
    moderator.click("#cards button.card[data-option='3']").await;
    voter.click("#cards button.card[data-option='5']").await;
    for browser in browsers {
        wait_votes(browser, &["3: mia", "5: vic"]).await;
    }

    // The moderator sets the points: both pages show them and move on to the next story.
    moderator
        .click("#points-buttons button[data-option='5']")
        .await;
    for browser in browsers {
        wait_story(browser, &second).await;
        browser
            .wait_text("#stories-list .story-item.estimated .badge", "5")
            .await;
        assert_eq!(
            story_points(browser).await,
            ["5", "now", "–"],
            "{}: the points of each story",
            browser.name
        );
        browser
            .wait_text("#stories-progress", "1 of 3 estimated")
            .await;
        browser
            .wait_text("#toasts", &format!("5 points set for {first}."))
            .await;
        browser.wait_text("#votes", "No votes yet.").await;
    }

    // Nobody was moved meanwhile: still one socket on each replica, on the same pages.
    assert_eq!(
        settled_sockets(replicas, 2).await,
        sockets,
        "the sockets stayed where they were"
    );
    assert_eq!(
        [moderator.served_by().await, voter.served_by().await],
        pages
    );
    for browser in browsers {
        browser.assert_no_console_errors().await;
    }
    moderator.close().await;
    voter.close().await;
}

/// Each replica's `poker_sockets_open`, read on its own port, once they add up to `total` (a
/// reloaded page's old socket takes a moment to close).
async fn settled_sockets(replicas: [&Server; 2], total: u64) -> [u64; 2] {
    let deadline = tokio::time::Instant::now() + SOCKETS_SETTLE;
    loop {
        let mut open = [0; 2];
        for (count, replica) in open.iter_mut().zip(replicas) {
            *count = metric(replica, "poker_sockets_open").await as u64;
        }
        if open.iter().sum::<u64>() == total {
            return open;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replicas' sockets did not add up to {total} within {SOCKETS_SETTLE:?}: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `GET /healthz` through the balancer until `replica` answers one, so that round robin
/// sends the next request to the other replica (nothing else makes requests meanwhile: the
/// pages are idle, their heartbeats go over their sockets).
async fn after_a_request_to(balancer: &Http, replica: &str) {
    let mut served = Vec::new();
    while served.len() < 4 {
        let reply = balancer.get("/healthz").await;
        let by = reply.served_by();
        reply.expect_status(200, "GET /healthz through the balancer");
        if by == replica {
            return;
        }
        served.push(by);
    }
    panic!("four requests through the balancer, none to {replica}: {served:?}");
}
