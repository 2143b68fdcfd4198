//! poker-bench: drives a planning-poker server over real sockets using only the public contract
//! (REST to set up, WebSockets to vote), and an in-memory [`baseline`] server that speaks the same
//! protocol subset, so every figure can be set beside what the stack itself can do.

pub mod baseline;
pub mod client;
pub mod guard;
pub mod matching;
pub mod pg;
pub mod process;
pub mod report;
pub mod rest;
pub mod runner;
pub mod scenarios;
pub mod stats;
pub mod svg;
pub mod target;
