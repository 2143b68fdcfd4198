#![no_main]
//! Fuzz target `import_json`; the body and its properties are `poker_fuzz::import_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| poker_fuzz::import_json(data));
