//! Ingest spreads its work over threads (files' first passes ahead of their writing, chunks of
//! rows over workers) and its outputs do not show it: the same bytes with one worker or several,
//! with chunks of one row or of a whole file, and rules that look across a file (duplicate
//! keys, duplicate and missing milestones) see the whole file whatever chunk a row falls in.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{case, csv_text, files_under, key, row, study};
use evalpipe_ingest::{IngestOptions, IngestSummary, PseudonymKey, Tuning, ingest_tuned};
use evalpipe_study::{RunLayout, Study};

/// Every file under `dir`, by path below it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

fn ingest_with(
    study: &Study,
    data: &Path,
    run: &Path,
    key: PseudonymKey,
    synthetic: bool,
    tuning: Tuning,
) -> (IngestSummary, BTreeMap<PathBuf, Vec<u8>>) {
    let layout = RunLayout::new(run);
    let summary = ingest_tuned(
        study,
        data,
        &layout,
        &IngestOptions { key, synthetic },
        &|_| {},
        tuning,
    )
    .unwrap();
    for a in &summary.files {
        assert!(a.balances(), "{}: accounts do not balance", a.file);
    }
    (summary, files(&layout.ingest_dir()))
}

/// The tunings compared: one worker with chunks larger than any file, and several workers with
/// tiny chunks (so chunks finish out of order).
const TUNINGS: [Tuning; 4] = [
    Tuning {
        workers: 1,
        chunk_rows: 1 << 20,
    },
    Tuning {
        workers: 2,
        chunk_rows: 1,
    },
    Tuning {
        workers: 3,
        chunk_rows: 7,
    },
    Tuning {
        workers: 4,
        chunk_rows: 100,
    },
];

fn assert_same_everywhere(
    study: &Study,
    data: &Path,
    key: impl Fn() -> PseudonymKey,
    synthetic: bool,
) -> IngestSummary {
    let mut reference: Option<(IngestSummary, BTreeMap<PathBuf, Vec<u8>>)> = None;
    for tuning in TUNINGS {
        let run = tempfile::tempdir().unwrap();
        let (summary, outputs) = ingest_with(study, data, run.path(), key(), synthetic, tuning);
        assert!(outputs.keys().any(|p| p.ends_with("participants.parquet")));
        match &reference {
            None => reference = Some((summary, outputs)),
            Some((s, o)) => {
                assert_eq!(
                    (
                        summary.participants,
                        summary.claims,
                        summary.unmatched_claims,
                        summary.quarantine_records
                    ),
                    (
                        s.participants,
                        s.claims,
                        s.unmatched_claims,
                        s.quarantine_records
                    ),
                    "{tuning:?}"
                );
                assert_eq!(
                    outputs.keys().collect::<Vec<_>>(),
                    o.keys().collect::<Vec<_>>()
                );
                for (path, bytes) in &outputs {
                    assert!(
                        bytes == &o[path],
                        "{} differs with {tuning:?} from one worker",
                        path.display()
                    );
                }
            }
        }
    }
    reference.unwrap().0
}

#[test]
fn outputs_are_the_same_bytes_whatever_the_workers_and_chunks() {
    // The interim twin: nine MI extracts (two of them workbooks) and the claims, with
    // quarantined rows, blank rows and unmatched claims.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = Study::load(&root.join("pipeline")).unwrap();
    let s = assert_same_everywhere(
        &study,
        &root.join("data/twin-interim"),
        PseudonymKey::synthetic,
        true,
    );
    assert!(s.quarantine_records > 0 && s.participants > 1000 && s.claims > 1000);
}

#[test]
fn rules_across_a_file_see_rows_in_every_chunk() {
    let c = case();
    let study = study();
    std::fs::write(
        c.data.join("mi_L4_20220131.csv"),
        csv_text(&study, &[row("A"), row("B")]),
    )
    .unwrap();
    let mut text = String::from(
        "claim_ref,lot_code,provider_ref,payment_group,milestone,milestone_date,submitted_date,amount_gbp,status\n",
    );
    // Row 2: an S13 whose job start is the file's last row. Row 3: a claim reference used again
    // near the end. Row 4: a job start claimed again mid-file, in other case. Row 5: an S26
    // with no S13 anywhere. Rows between: valid job starts of other participants.
    text += "S13X1,L6,X1,RP,S13,06/04/2020,20/04/2020,300,VALIDATED\n";
    text += "DUP,L6,X2,RP,JS,06/01/2020,20/01/2020,400,VALIDATED\n";
    text += "JSX4,L6,X4,RP,JS,06/01/2020,20/01/2020,400,VALIDATED\n";
    text += "S26X5,L6,X5,RP,S26,06/07/2020,20/07/2020,100,VALIDATED\n";
    for i in 0..300 {
        text += &format!("F{i},L6,Z{i},RP,JS,06/01/2020,20/01/2020,400,VALIDATED\n");
        if i == 150 {
            text += "jsx4b,l6,x4,rp,js,06/02/2020,20/02/2020,400,VALIDATED\n";
        }
    }
    text += "DUP,L6,X3,RP,JS,06/01/2020,20/01/2020,400,VALIDATED\n";
    text += "JSX1,L6,X1,RP,JS,06/01/2020,20/01/2020,400,VALIDATED\n";
    std::fs::write(c.data.join("claims_20220131.csv"), text).unwrap();

    let s = assert_same_everywhere(&study, &c.data, key, false);
    let a = s
        .files
        .iter()
        .find(|a| a.file == "claims_20220131.csv")
        .unwrap();
    let rules: Vec<(u64, Vec<&str>)> = a
        .rows
        .iter()
        .map(|r| (r.row, r.findings.iter().map(|f| f.rule).collect()))
        .collect();
    assert_eq!(
        rules,
        vec![
            (3, vec!["duplicate_key"]),
            (4, vec!["duplicate_milestone"]),
            (5, vec!["milestone_sequence"]),
            (157, vec!["duplicate_milestone"]),
            (307, vec!["duplicate_key"]),
        ]
    );
    assert_eq!(a.rows_read, 307);
    assert_eq!(s.claims, 302);
    // Every counted claim is in L6, which has no MI extract.
    assert_eq!(s.unmatched_claims, 302);
}

/// The first passes run in the files' name order; the writing must take them in the same order
/// whatever the study's lot order (a lot `L10` listed after `L9` sorts before `L2`). Here the
/// lots are listed L9 down to L1: a writing loop in lot order handed L2's first pass to L7's
/// file, named the rejected L7 a lot with data and L2 one without.
#[test]
fn a_lot_order_other_than_the_files_names_still_pairs_each_file_with_its_first_pass() {
    let c = case();
    let mut study = study();
    study.lots.reverse();
    let mut r2 = row("A");
    r2.insert("lot_code".into(), "L2".into());
    let mut r2b = row("B");
    r2b.insert("lot_code".into(), "L2".into());
    std::fs::write(
        c.data.join("mi_L2_20220131.csv"),
        csv_text(&study, &[r2, r2b]),
    )
    .unwrap();
    let mut r7 = row("C");
    r7.insert("lot_code".into(), "L7".into());
    let broken = csv_text(&study, &[r7]).replacen("gender", "sex", 1);
    std::fs::write(c.data.join("mi_L7_20220131.csv"), broken).unwrap();
    for tuning in TUNINGS {
        let run = c
            .run
            .join(format!("{}-{}", tuning.workers, tuning.chunk_rows));
        let (summary, _) = ingest_with(&study, &c.data, &run, key(), false, tuning);
        assert_eq!(summary.participants, 2);
        // Every lot but L2, in the study's (reversed) lot order.
        assert_eq!(
            summary.lots_without_data,
            ["L9", "L8", "L7", "L6", "L5", "L4", "L3", "L1"]
        );
        // The clean rows carry their place: file number 1 (the first by name), rows 2 and 3.
        let file = std::fs::File::open(run.join("ingest/participants.parquet")).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut places = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name("place").expect("a place column");
            let column = column
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("whole numbers");
            places.extend(column.values().iter().copied());
        }
        assert_eq!(
            places,
            [evalpipe_study::place(1, 2), evalpipe_study::place(1, 3)]
        );
        assert_eq!(evalpipe_study::place_parts(places[1]), (1, 3));
    }
}
