#![no_main]
//! See rapport_tests::fuzz::csv_import.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rapport_tests::fuzz::csv_import(data));
