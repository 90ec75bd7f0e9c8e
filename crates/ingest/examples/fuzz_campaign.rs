//! A long fuzzing campaign over generated hostile extracts (the generator of
//! `tests/fuzz/generate.rs`): every case is read and validated as ingest does and checked for
//! every promise (`evalpipe_ingest::fuzz`); one in `--whole-every` also goes through the whole
//! of ingest with its outputs searched for planted identifiers.
//!
//! ```sh
//! cargo run --release -p evalpipe-ingest --example fuzz_campaign -- --cases 1000000 --threads 2
//! ```
//!
//! Prints the cases run, what they came to, the slowest case and the first failure's seed (a
//! failure is replayed with `--from SEED --cases 1`); exits 1 on any failure.
//!
//! `--write-corpus DIR` writes the cases' files instead of checking them, as seeds for the
//! cargo-fuzz targets in `fuzz/` (`DIR/csv/<seed>`, `DIR/xlsx/<seed>`).

#[path = "../tests/fuzz/generate.rs"]
mod generate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let cases = arg("--cases", 100_000);
    let from = arg("--from", 0);
    let threads = arg("--threads", 2);
    let whole_every = arg("--whole-every", 1_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = evalpipe_study::Study::load(&root.join("pipeline")).expect("the study");
    let args: Vec<String> = std::env::args().collect();
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--write-corpus")
        .and_then(|i| args.get(i + 1))
    {
        for seed in from..from + cases {
            let case = generate::case(&study, seed);
            let kind = if case.name.ends_with(".xlsx") {
                "xlsx"
            } else {
                "csv"
            };
            let folder = std::path::Path::new(dir).join(kind);
            std::fs::create_dir_all(&folder).expect("the corpus folder");
            std::fs::write(folder.join(seed.to_string()), &case.bytes).expect("a seed file");
        }
        return;
    }
    let next = AtomicU64::new(from);
    let counts: [AtomicU64; 5] = Default::default(); // run, rejected, misaligned rows, workbooks, whole
    let slowest = std::sync::Mutex::new((Duration::ZERO, 0u64));
    let failures = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (study, next, counts, slowest, failures) =
                (&study, &next, &counts, &slowest, &failures);
            scope.spawn(move || {
                let scratch =
                    std::env::temp_dir().join(format!("evalpipe-fuzz-{}-{t}", std::process::id()));
                std::fs::create_dir_all(&scratch).expect("a scratch folder");
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= from + cases {
                        break;
                    }
                    let case = generate::case(study, seed);
                    let t0 = Instant::now();
                    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        evalpipe_ingest::fuzz::check_extract(
                            study,
                            &scratch,
                            case.name,
                            &case.bytes,
                            &case.canaries,
                        )
                    }));
                    let took = t0.elapsed();
                    {
                        let mut s = slowest.lock().unwrap();
                        if took > s.0 {
                            *s = (took, seed);
                        }
                    }
                    counts[0].fetch_add(1, Ordering::Relaxed);
                    counts[3].fetch_add(u64::from(case.name.ends_with(".xlsx")), Ordering::Relaxed);
                    match checked {
                        Ok(Ok(o)) => {
                            counts[1].fetch_add(u64::from(o.rejected), Ordering::Relaxed);
                            counts[2].fetch_add(o.misaligned, Ordering::Relaxed);
                        }
                        Ok(Err(e)) => failures
                            .lock()
                            .unwrap()
                            .push((seed, e, case.damage.clone())),
                        Err(_) => failures.lock().unwrap().push((
                            seed,
                            "panic".into(),
                            case.damage.clone(),
                        )),
                    }
                    if seed % whole_every == 0 {
                        let data = scratch.join(format!("data{seed}"));
                        let run = scratch.join(format!("run{seed}"));
                        std::fs::create_dir_all(&data).expect("a data folder");
                        std::fs::write(data.join(case.name), &case.bytes).expect("the case");
                        let whole = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            evalpipe_ingest::fuzz::check_ingest(study, &data, &run, &case.canaries)
                        }));
                        counts[4].fetch_add(1, Ordering::Relaxed);
                        match whole {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => failures.lock().unwrap().push((
                                seed,
                                format!("whole ingest: {e}"),
                                case.damage.clone(),
                            )),
                            Err(_) => failures.lock().unwrap().push((
                                seed,
                                "whole ingest: panic".into(),
                                case.damage.clone(),
                            )),
                        }
                        let _ = std::fs::remove_dir_all(&data);
                        let _ = std::fs::remove_dir_all(&run);
                    }
                    if seed % 100_000 == 0 && seed > from {
                        eprintln!("{seed} cases, {:.0} s", started.elapsed().as_secs_f64());
                    }
                }
                let _ = std::fs::remove_dir_all(&scratch);
            });
        }
    });
    let n = |i: usize| counts[i].load(Ordering::Relaxed);
    let (slow, slow_seed) = *slowest.lock().unwrap();
    let failures = failures.into_inner().unwrap();
    println!(
        "{} cases (seeds {from}–{}) in {:.0} s on {threads} threads: {} files rejected, {} misaligned rows, {} workbooks, {} whole ingests; slowest case {:.3} s (seed {slow_seed}); {} failures",
        n(0),
        from + cases - 1,
        started.elapsed().as_secs_f64(),
        n(1),
        n(2),
        n(3),
        n(4),
        slow.as_secs_f64(),
        failures.len()
    );
    for (seed, e, damage) in failures.iter().take(20) {
        println!("seed {seed} ({damage:?}): {e}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
