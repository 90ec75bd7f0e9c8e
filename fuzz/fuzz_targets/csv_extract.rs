//! Any bytes as the MI extract `mi_L4_20220131.csv`: read, validated and checked as
//! `evalpipe_ingest::fuzz::check_extract` does (no panic, every line accounted for, rows numbered
//! as Excel shows them, no planted identifier in a message or a kept value).
#![no_main]

mod ground;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| ground::check("mi_L4_20220131.csv", bytes));
