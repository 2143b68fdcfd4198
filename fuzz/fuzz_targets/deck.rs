#![no_main]
//! Fuzz target `deck`; the body and its properties are `poker_fuzz::deck`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| poker_fuzz::deck(data));
