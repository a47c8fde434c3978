#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| preflight_fuzz::grype(data));
