//! What ingest reports while it works: each file once, in order, and rows that add up to the
//! rows it read, on the interim twin (which has quarantined rows).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use evalpipe_ingest::{FileStatus, IngestOptions, Progress, PseudonymKey, ingest_with_progress};
use evalpipe_study::{RunLayout, Study};

#[test]
fn reported_rows_add_up_to_the_rows_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline")).unwrap();
    let run = tempfile::tempdir().unwrap();
    let events = Mutex::new(Vec::new());
    let summary = ingest_with_progress(
        &study,
        &root.join("data/twin-interim"),
        &RunLayout::new(run.path()),
        &IngestOptions {
            key: PseudonymKey::synthetic(),
            synthetic: true,
        },
        &|p| events.lock().unwrap().push(p),
    )
    .unwrap();
    let events = events.into_inner().unwrap();
    assert!(
        summary.quarantine_records > 0,
        "the interim twin has quarantined rows"
    );

    // Every file read is announced once, numbered in order, with the same total.
    let read: Vec<&str> = summary
        .files
        .iter()
        .filter(|a| matches!(a.status, FileStatus::Used | FileStatus::Rejected))
        .map(|a| a.file.as_str())
        .collect();
    let announced: Vec<(&str, usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            Progress::File { file, index, files } => Some((file.as_str(), *index, *files)),
            Progress::Rows { .. } => None,
        })
        .collect();
    assert_eq!(announced.len(), read.len());
    for (i, (file, index, files)) in announced.iter().enumerate() {
        assert_eq!((*index, *files), (i + 1, read.len()));
        assert!(read.contains(file), "{file} announced but not read");
    }

    // Rows come after their file's announcement and add up to what its account says was read.
    let mut current = None;
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        match e {
            Progress::File { file, .. } => current = Some(file.as_str()),
            Progress::Rows { file, rows: n } => {
                assert_eq!(Some(file.as_str()), current, "rows of {file} out of turn");
                assert!(*n > 0);
                *rows.entry(file.as_str()).or_default() += n;
            }
        }
    }
    for a in &summary.files {
        assert_eq!(
            rows.get(a.file.as_str()).copied().unwrap_or(0),
            a.rows_read,
            "{}",
            a.file
        );
    }
    let total: usize = rows.values().sum();
    assert_eq!(
        total,
        summary.files.iter().map(|a| a.rows_read).sum::<usize>()
    );
    assert!(total > summary.participants + summary.claims);
}
