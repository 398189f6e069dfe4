#![no_main]
//! See rapport_tests::fuzz::decode.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rapport_tests::fuzz::decode(data));
