#![no_main]
//! Fuzz target `frame`; the body and its properties are `poker_fuzz::frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| poker_fuzz::frame(data));
