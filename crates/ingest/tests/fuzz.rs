//! Property tests of ingest on generated hostile extracts (`tests/fuzz/generate.rs`): for every
//! case, no panic or hang, every physical line accounted for, rows numbered as Excel shows them,
//! and no planted identifier in any message or kept value; for some, the whole of ingest with
//! every output file searched. A bounded number of cases runs here; `examples/fuzz_campaign.rs`
//! runs a million or more, and `fuzz/` has cargo-fuzz targets for coverage-guided campaigns
//! (see the README's "Fuzzing").

#[path = "fuzz/generate.rs"]
mod generate;

use std::time::{Duration, Instant};

fn study() -> evalpipe_study::Study {
    evalpipe_study::Study::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline"),
    )
    .unwrap()
}

/// Cases per test run: enough to meet every kind of damage many times (each case deals up to
/// six blows), few enough for a debug build.
const CASES: u64 = 1_000;
/// Of which this many go through the whole of ingest, outputs searched.
const WHOLE_EVERY: u64 = 50;

#[test]
fn generated_hostile_extracts_break_no_promise() {
    let study = study();
    let scratch = tempfile::tempdir().unwrap();
    let (mut rejected, mut misaligned, mut workbooks, mut slowest) = (0, 0, 0, Duration::ZERO);
    for seed in 0..CASES {
        let case = generate::case(&study, seed);
        workbooks += u64::from(case.name.ends_with(".xlsx"));
        if case.damage.is_empty() && case.name.ends_with(".csv") {
            // The cargo-fuzz targets find the canaries by their shapes: they must find them.
            let planted = evalpipe_ingest::fuzz::planted(&case.bytes);
            for c in case
                .canaries
                .iter()
                .filter(|c| c.starts_with(['C', 'Q', 'Z', 'X']))
            {
                if !c.starts_with("ZX") {
                    assert!(
                        planted.contains(c),
                        "seed {seed}: {c} not found in {planted:?}"
                    );
                }
            }
        }
        let started = Instant::now();
        let outcome = evalpipe_ingest::fuzz::check_extract(
            &study,
            scratch.path(),
            case.name,
            &case.bytes,
            &case.canaries,
        )
        .unwrap_or_else(|e| panic!("seed {seed} ({:?}): {e}", case.damage));
        slowest = slowest.max(started.elapsed());
        rejected += u64::from(outcome.rejected);
        misaligned += outcome.misaligned;
        if seed % WHOLE_EVERY == 0 {
            let data = scratch.path().join(format!("data{seed}"));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join(case.name), &case.bytes).unwrap();
            evalpipe_ingest::fuzz::check_ingest(
                &study,
                &data,
                &scratch.path().join(format!("run{seed}")),
                &case.canaries,
            )
            .unwrap_or_else(|e| panic!("seed {seed} ({:?}), whole ingest: {e}", case.damage));
        }
        std::fs::remove_file(scratch.path().join(case.name)).ok();
    }
    // The generator must reach what it is for: rejected files, misaligned rows, workbooks.
    assert!(rejected > 50, "{rejected} files rejected");
    assert!(misaligned > 300, "{misaligned} misaligned rows");
    assert!(workbooks > 40, "{workbooks} workbooks");
    // No case comes near a hang, even in a debug build.
    assert!(
        slowest < Duration::from_secs(20),
        "slowest case {slowest:?}"
    );
}
