//! What both targets share: the study, a scratch folder, and the check.

use std::sync::OnceLock;

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

/// Reads `bytes` as the MI extract `name` and panics, for libFuzzer, on a broken promise.
pub fn check(name: &str, bytes: &[u8]) {
    let g = ground();
    let canaries = evalpipe_ingest::fuzz::planted(bytes);
    if let Err(broken) =
        evalpipe_ingest::fuzz::check_extract(&g.study, g.scratch.path(), name, bytes, &canaries)
    {
        panic!("{broken}");
    }
}
