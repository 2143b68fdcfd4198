//! End-to-end tests: each scenario starts the real `planning-poker` binary on a fresh database
//! and talks to it over REST and WebSocket exactly as PROTOCOL.md describes. Every scenario runs
//! twice, as `<module>::sqlite::<name>` and `<module>::postgres::<name>` (the latter is ignored
//! unless `TEST_DATABASE_URL` was set when the tests were built).

#[macro_use]
mod support;

mod bad_input;
mod balancer;
mod bench;
mod browser;
mod browser_admin;
mod browser_guests;
mod browser_languages;
mod browser_rounds;
mod browser_stack;
mod cli;
mod cluster;
mod compose;
mod copy_data;
mod db_outage;
mod dialect;
mod guests;
mod handshake;
mod hostile_json;
mod import_django;
mod join_storm;
mod live_rights;
mod login_throttle;
mod logs;
mod metrics;
mod operations;
mod original_client;
mod pages;
mod permissions;
mod presence;
mod quick_rounds;
mod rest_basics;
mod rest_cascades;
mod rest_decks;
mod rest_errors;
mod rest_export;
mod rest_import;
mod rest_live;
mod rest_openapi;
mod rest_sanitize;
mod rest_sessions;
mod rest_stories;
mod rest_users;
mod rest_votes;
mod restart;
mod rounds;
mod secrets_in_logs;
mod shutdown;
mod slow_client;
mod slow_clients;
mod timer;
mod webhooks;
mod websocket_events;
