//! Regenerates the synthetic qualitative twin in `data/qualitative/` from its source,
//! `data/qualitative/source/twin.toml`, after either or the codebook changed:
//!
//! ```sh
//! cargo run -p evalpipe-synth --example qualitative_twin            # into data/qualitative
//! cargo run -p evalpipe-synth --example qualitative_twin -- OUT_DIR # elsewhere
//! ```
//!
//! The framework's test `twin_workbooks_match_their_source_and_are_deterministic` fails until the
//! committed workbooks are regenerated.

use std::path::{Path, PathBuf};

use evalpipe_framework::Codebook;
use evalpipe_study::Study;
use evalpipe_synth::qualitative;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pipeline = root.join("pipeline");
    let study = Study::load(&pipeline)?;
    let codebook = Codebook::load_from_pipeline(&pipeline)?;
    let folder = root.join("data/qualitative");
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| folder.clone());
    let source = folder.join(qualitative::SOURCE_FILE);
    let summary = qualitative::generate(&source, &codebook, &study, &out)?;
    println!(
        "{} cases ({}), {} charted cells in {}",
        summary.cases_by_wave.values().sum::<usize>(),
        summary
            .cases_by_wave
            .iter()
            .map(|(w, n)| format!("wave {w}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        summary.cells,
        out.display()
    );
    Ok(())
}
