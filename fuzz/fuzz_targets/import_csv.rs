#![no_main]
//! Fuzz target `import_csv`; the body and its properties are `poker_fuzz::import_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| poker_fuzz::import_csv(data));
