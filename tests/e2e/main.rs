//! End-to-end tests: each scenario starts the real `planning-poker` binary on a fresh database
//! and talks to it over REST and WebSocket exactly as PROTOCOL.md describes. Every scenario runs
//! twice, as `<module>::sqlite::<name>` and `<module>::postgres::<name>` (the latter is ignored
//! unless `TEST_DATABASE_URL` was set when the tests were built).

#[macro_use]
mod support;

mod bad_input;
mod browser;
mod browser_admin;
mod cli;
mod handshake;
mod permissions;
mod presence;
mod rest_basics;
mod restart;
mod websocket_events;
