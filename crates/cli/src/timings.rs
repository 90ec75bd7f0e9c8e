//! `evalpipe run --timings FILE`: wall time and peak memory per stage, for the benchmarks.
//!
//! Stages overlap (the models run beside the transform's later queries, the framework beside
//! everything), so a stage's peak memory cannot come from resetting the kernel's high-water mark
//! when it starts. Instead a thread samples the process's resident set every few milliseconds
//! and each stage reports the highest sample between its start and its end; the whole run's
//! peak is the kernel's own (`VmHWM`), exact. Timings never reach the run folder: they depend on
//! the machine, and a run's outputs must not.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

/// How often the resident set is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The stages' spans and the memory samples of one run, or nothing when not asked for.
#[derive(Clone, Default)]
pub struct Timings(Option<Arc<Recorder>>);

struct Recorder {
    start: Instant,
    spans: Mutex<Vec<Span>>,
    samples: Mutex<Vec<(Duration, u64)>>,
    /// Each query's table, as the transform wrote it.
    tables: Mutex<Vec<TableTiming>>,
    stop: AtomicBool,
}

struct Span {
    stage: &'static str,
    start: Duration,
    end: Option<Duration>,
    rows: Option<u64>,
}

/// A stage's place among the spans, kept by its progress bar.
#[derive(Clone)]
pub struct SpanId(Option<(Arc<Recorder>, usize)>);

impl Timings {
    /// Starts sampling memory when `on`.
    pub fn new(on: bool) -> Timings {
        if !on {
            return Timings(None);
        }
        let recorder = Arc::new(Recorder {
            start: Instant::now(),
            spans: Mutex::default(),
            samples: Mutex::default(),
            tables: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let sampler = Arc::clone(&recorder);
        std::thread::spawn(move || {
            while !sampler.stop.load(Ordering::Relaxed) {
                if let Some(rss) = resident_bytes() {
                    let at = sampler.start.elapsed();
                    lock(&sampler.samples).push((at, rss));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        Timings(Some(recorder))
    }

    /// A stage starts now.
    pub fn start(&self, stage: &'static str) -> SpanId {
        SpanId(self.0.as_ref().map(|r| {
            let mut spans = lock(&r.spans);
            spans.push(Span {
                stage,
                start: r.start.elapsed(),
                end: None,
                rows: None,
            });
            (Arc::clone(r), spans.len() - 1)
        }))
    }

    /// Writes the spans to `path` as JSON (and stops sampling).
    pub fn write(&self, path: &Path) -> Result<()> {
        let Some(r) = &self.0 else {
            return Ok(());
        };
        r.stop.store(true, Ordering::Relaxed);
        let total = r.start.elapsed();
        let samples = lock(&r.samples);
        let peak_between = |from: Duration, to: Duration| {
            samples
                .iter()
                .filter(|(at, _)| *at >= from && *at <= to)
                .map(|(_, rss)| *rss)
                .max()
        };
        let stages = lock(&r.spans)
            .iter()
            .map(|s| {
                let end = s.end.unwrap_or(total);
                StageTiming {
                    stage: s.stage,
                    start_seconds: s.start.as_secs_f64(),
                    seconds: (end - s.start).as_secs_f64(),
                    peak_rss_bytes: peak_between(s.start, end),
                    rows: s.rows,
                    rows_per_second: s
                        .rows
                        .map(|n| n as f64 / (end - s.start).as_secs_f64().max(1e-9)),
                }
            })
            .collect();
        let report = RunTimings {
            total_seconds: total.as_secs_f64(),
            // The kernel updates the high-water mark lazily, so a sample can exceed it.
            peak_rss_bytes: peak_resident_bytes()
                .into_iter()
                .chain(samples.iter().map(|(_, rss)| *rss))
                .max(),
            sample_interval_ms: SAMPLE_EVERY.as_millis() as u64,
            stages,
            tables: {
                let mut tables = lock(&r.tables).clone();
                // Slowest first: where a large run's transform time goes.
                tables.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
                tables
            },
        };
        let text = serde_json::to_string_pretty(&report).context("serialising the timings")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing the timings to {}", path.display()))
    }
}

impl SpanId {
    /// The stage's work is over (the first call counts: a stage joined later ended earlier).
    pub fn end(&self) {
        if let Some((r, i)) = &self.0 {
            let at = r.start.elapsed();
            let mut spans = lock(&r.spans);
            spans[*i].end.get_or_insert(at);
        }
    }

    /// A query's table was written, `elapsed` after the query started.
    pub fn table(&self, table: &str, elapsed: Duration, rows: Option<u64>) {
        if let Some((r, _)) = &self.0 {
            let end = r.start.elapsed();
            let start = end.saturating_sub(elapsed);
            let peak = lock(&r.samples)
                .iter()
                .filter(|(at, _)| *at >= start)
                .map(|(_, rss)| *rss)
                .max();
            lock(&r.tables).push(TableTiming {
                table: table.to_string(),
                start_seconds: start.as_secs_f64(),
                seconds: elapsed.as_secs_f64(),
                rows,
                peak_rss_bytes: peak,
            });
        }
    }

    /// Rows the stage read, for its rows per second.
    pub fn rows(&self, rows: u64) {
        if let Some((r, i)) = &self.0 {
            lock(&r.spans)[*i].rows = Some(rows);
        }
    }
}

#[derive(Serialize)]
struct RunTimings {
    total_seconds: f64,
    peak_rss_bytes: Option<u64>,
    sample_interval_ms: u64,
    stages: Vec<StageTiming>,
    /// The transform's queries, slowest first; those running at once share the cores.
    tables: Vec<TableTiming>,
}

#[derive(Serialize, Clone)]
struct TableTiming {
    table: String,
    start_seconds: f64,
    seconds: f64,
    /// `None` for a view, which writes no rows (its readers compute them).
    rows: Option<u64>,
    /// The process's peak while the query ran (with whatever ran beside it).
    peak_rss_bytes: Option<u64>,
}

#[derive(Serialize)]
struct StageTiming {
    stage: &'static str,
    start_seconds: f64,
    seconds: f64,
    peak_rss_bytes: Option<u64>,
    rows: Option<u64>,
    rows_per_second: Option<f64>,
}

/// Refuses a timings file inside the run folder: it would be swapped away with the partial run
/// or, worse, sit among outputs the manifest does not list.
pub fn check_path(timings: &Path, out: &Path) -> Result<PathBuf> {
    let absolute =
        std::path::absolute(timings).with_context(|| format!("--timings {}", timings.display()))?;
    let out = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    if absolute.starts_with(&out) {
        anyhow::bail!(
            "--timings {} is inside the run folder {}; write it elsewhere (timings depend on the \
             machine, the run's outputs must not)",
            timings.display(),
            out.display()
        );
    }
    Ok(absolute)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's resident set now (Linux's `VmRSS`; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kb| kb * 1024)
}

/// The process's peak resident set so far (Linux's `VmHWM`).
fn peak_resident_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kb| kb * 1024)
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
