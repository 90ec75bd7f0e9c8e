//! Any bytes as the MI extract `mi_L4_20220131.xlsx`: read, validated and checked as
//! `evalpipe_ingest::fuzz::check_extract` does (no panic, every line accounted for, rows numbered
//! as Excel shows them, no planted identifier in a message or a kept value).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct Ground {
    study: evalpipe_study::Study,
    scratch: tempfile::TempDir,
}

fn ground() -> &'static Ground {
    static GROUND: OnceLock<Ground> = OnceLock::new();
    GROUND.get_or_init(|| Ground {
        study: evalpipe_study::Study::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline"),
        )
        .expect("the study"),
        scratch: tempfile::tempdir().expect("a scratch folder"),
    })
}

fuzz_target!(|bytes: &[u8]| {
    let g = ground();
    let canaries = evalpipe_ingest::fuzz::planted(bytes);
    if let Err(broken) = evalpipe_ingest::fuzz::check_extract(
        &g.study,
        g.scratch.path(),
        "mi_L4_20220131.xlsx",
        bytes,
        &canaries,
    ) {
        panic!("{broken}");
    }
});
