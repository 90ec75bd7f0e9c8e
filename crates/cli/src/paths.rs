//! Where the study, the embedded default data and the run folders are.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use evalpipe_study::Study;

/// The project folder: the nearest ancestor of the working directory holding
/// `pipeline/study.toml`, else the source tree this binary was built from.
pub fn project_root() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("pipeline/study.toml").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .components()
        .collect()
}

/// `given` or `root/default`.
pub fn or_default(given: &Option<PathBuf>, root: &Path, default: &str) -> PathBuf {
    given.clone().unwrap_or_else(|| root.join(default))
}

/// The study configuration in `pipeline`, or an error saying how to point elsewhere.
pub fn load_study(pipeline: &Path) -> Result<Study> {
    Study::load(pipeline).with_context(|| {
        format!(
            "loading the study configuration from {} (use --pipeline DIR to point elsewhere)",
            pipeline.display()
        )
    })
}
