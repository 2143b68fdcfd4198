//! The webhook store on SQLite: scoping, an unknown session, the bounded log, and what goes
//! with a hook or a session.

use poker_db::{DbError, DeliveryUpdate, NewDelivery, NewSession, Store};

fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("hooks.db").display());
    Store::open(&url, 2, std::time::Duration::from_secs(5)).expect("open the store")
}

fn session(store: &Store, name: &str) -> i64 {
    store
        .create_session(&NewSession {
            name: name.into(),
            poker_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            deck: Default::default(),
            secret_votes: true,
            reveal: Default::default(),
            auto_reveal: true,
            timer_reveals: true,
        })
        .expect("a session")
        .id
}

fn delivery(store: &Store, webhook_id: i64, n: i64) -> i64 {
    store
        .insert_delivery(&NewDelivery {
            webhook_id,
            event_id: &format!("evt_{n}"),
            event: "points_set",
            session_id: Some(1),
            payload: "{}",
            status: "pending",
            now_ms: n,
        })
        .expect("a delivery")
}

#[test]
fn a_session_hears_its_own_hooks_and_the_global_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let (one, two) = (session(&store, "one"), session(&store, "two"));
    let own = store.create_webhook("http://a/", Some(one), "s1").unwrap();
    let global = store.create_webhook("http://g/", None, "sg").unwrap();
    store.create_webhook("http://b/", Some(two), "s2").unwrap();
    let targets: Vec<(i64, String)> = store
        .webhook_targets(one)
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.secret))
        .collect();
    assert_eq!(targets, [(own.id, "s1".into()), (global.id, "sg".into())]);
    assert!(matches!(
        store.create_webhook("http://x/", Some(999), "s"),
        Err(DbError::NotFound)
    ));
    // The secret never shows in Debug.
    let debug = format!("{:?}", store.webhook_targets(one).unwrap());
    assert!(
        !debug.contains("s1") && debug.contains("[redacted]"),
        "{debug}"
    );
}

#[test]
fn a_hook_keeps_its_last_deliveries_and_they_go_with_it_or_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let doomed = session(&store, "doomed");
    let hook = store
        .create_webhook("http://a/", Some(doomed), "s")
        .unwrap();
    let global = store.create_webhook("http://g/", None, "s").unwrap();
    let kept = poker_db::hooks::DELIVERIES_KEPT;
    for n in 0..kept + 5 {
        delivery(&store, hook.id, n);
    }
    let last = delivery(&store, global.id, 1);
    let log = store.deliveries(hook.id, 1_000).unwrap();
    assert_eq!(log.len() as i64, kept);
    assert_eq!(log[0].event_id, format!("evt_{}", kept + 4), "newest first");
    assert_eq!(log.last().unwrap().event_id, "evt_5", "the oldest went");

    store
        .update_delivery(
            last,
            &DeliveryUpdate {
                status: "delivered",
                attempts: 2,
                status_code: Some(204),
                error: None,
                attempt_log: "[{}, {}]",
                now_ms: 9,
            },
        )
        .unwrap();
    let updated = &store.deliveries(global.id, 50).unwrap()[0];
    assert_eq!(
        (
            updated.status.as_str(),
            updated.attempts,
            updated.status_code,
            updated.updated_at
        ),
        ("delivered", 2, Some(204), 9)
    );

    // The session's hook and its log go with the session; the global one stays.
    store.delete_session(doomed).unwrap();
    assert_eq!(store.webhook(hook.id).unwrap(), None);
    assert!(store.deliveries(hook.id, 50).unwrap().is_empty());
    let left: Vec<i64> = store.webhooks().unwrap().iter().map(|h| h.id).collect();
    assert_eq!(left, [global.id]);
    // A hook's log goes with it.
    store.delete_webhook(global.id).unwrap();
    assert!(store.deliveries(global.id, 50).unwrap().is_empty());
    assert!(matches!(
        store.delete_webhook(global.id),
        Err(DbError::NotFound)
    ));
}

#[test]
fn a_pending_delivery_is_taken_over_once_and_only_as_it_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let hook = store.create_webhook("http://a/", None, "s1").unwrap();
    let first = delivery(&store, hook.id, 10);
    let done = delivery(&store, hook.id, 11);
    store
        .update_delivery(
            done,
            &DeliveryUpdate {
                status: "delivered",
                attempts: 1,
                status_code: Some(200),
                error: None,
                attempt_log: "[]",
                now_ms: 12,
            },
        )
        .unwrap();
    let pending = store.pending_deliveries(10).unwrap();
    assert_eq!(pending.len(), 1, "only the pending one: {pending:?}");
    let (read, target) = (&pending[0].delivery, &pending[0].target);
    assert_eq!((read.id, read.attempts, read.updated_at), (first, 0, 10));
    assert_eq!((target.id, target.secret.as_str()), (hook.id, "s1"));

    // Two processes read it alike; the first to claim it has it, the other finds it touched.
    assert!(store.claim_delivery(first, 0, 10, 100).unwrap());
    assert!(!store.claim_delivery(first, 0, 10, 101).unwrap());
    // So does a process that read it before its maker recorded another attempt.
    store
        .update_delivery(
            first,
            &DeliveryUpdate {
                status: "pending",
                attempts: 1,
                status_code: Some(503),
                error: Some("answered 503"),
                attempt_log: "[]",
                now_ms: 200,
            },
        )
        .unwrap();
    assert!(!store.claim_delivery(first, 0, 100, 300).unwrap());
    assert!(store.claim_delivery(first, 1, 200, 300).unwrap());
}
