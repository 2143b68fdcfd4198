#![no_main]
//! Fuzz target `rest_body`; the body and its properties are `poker_fuzz::rest_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| poker_fuzz::rest_body(data));
