//! The progress display of `evalpipe run`: one bar or spinner per stage on stderr, drawn only
//! when stderr is a terminal and `--quiet` is off.
//!
//! The stage libraries know nothing of terminals: each reports plain events through a callback
//! (`evalpipe_ingest::Progress`, `evalpipe_transform::Progress`, …) and this module alone turns
//! them into indicatif bars. Without a terminal no bar exists and nothing but the stages'
//! one-line summaries reaches stderr, byte for byte as before; with one, the summaries are
//! printed above the bars, which are cleared when their stage ends.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use evalpipe_pipeline::{Event, Stage};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::timings::{SpanId, Timings};

/// Where the stage summaries and, on a terminal, the bars go.
pub struct Display {
    quiet: bool,
    /// The bars' canvas; `None` when nothing is drawn (no terminal, or `--quiet`).
    bars: Option<MultiProgress>,
    /// Each stage's span, when `--timings` asked for them.
    timings: Timings,
    /// The bars of the stages begun and not ended.
    running: Mutex<BTreeMap<Stage, StageBar>>,
}

impl Display {
    /// Draws bars when stderr is a terminal and not `quiet`.
    pub fn new(quiet: bool) -> Display {
        Display::with(quiet, std::io::stderr().is_terminal())
    }

    fn with(quiet: bool, terminal: bool) -> Display {
        Display {
            quiet,
            timings: Timings::default(),
            running: Mutex::default(),
            bars: (terminal && !quiet)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Records each stage's span from now on (`--timings`).
    pub fn timed(mut self, timings: Timings) -> Display {
        self.timings = timings;
        self
    }

    /// The stages' spans recorded so far.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Prints a stage summary, warning or note on stderr (above the bars when they are drawn);
    /// nothing under `--quiet`.
    pub fn line(&self, text: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                // Only fails when the terminal went away; the summary then has nowhere to go.
                let _ = bars.println(text.as_ref());
            }
            None => eprintln!("{}", text.as_ref()),
        }
    }

    /// Draws one event of a run: a line, or a stage's bar begun, moved or ended.
    pub fn event(&self, event: Event) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let bar = |stage: Stage| running.get(&stage).cloned();
        match event {
            Event::Said(text) => {
                drop(running);
                self.line(text);
            }
            Event::Began(stage) => {
                let bar = self.stage(stage.name());
                running.insert(stage, bar);
            }
            Event::Step(stage, step) => bar(stage).iter().for_each(|b| b.step(step.clone())),
            Event::Ingest(p) => bar(Stage::Ingest).iter().for_each(|b| b.ingest(p.clone())),
            Event::Transform(p) => bar(Stage::Transform).iter().for_each(|b| b.transform(&p)),
            Event::Models(p) => bar(Stage::Models).iter().for_each(|b| b.models(p.clone())),
            Event::Framework(p) => bar(Stage::Framework)
                .iter()
                .for_each(|b| b.framework(p.clone())),
            Event::Rows(stage, rows) => bar(stage).iter().for_each(|b| b.rows(rows)),
            Event::WorkDone(stage) => bar(stage).iter().for_each(StageBar::work_done),
            Event::Ended(stage) => {
                if let Some(b) = running.remove(&stage) {
                    b.done();
                }
            }
        }
    }

    /// The bar of `stage`, shown from now until [`StageBar::done`]; a hidden one, which keeps
    /// its counts but draws nothing, when no bars are drawn.
    pub fn stage(&self, stage: &'static str) -> StageBar {
        let bar = match &self.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
            None => ProgressBar::hidden(),
        };
        bar.set_style(style(SPINNER));
        bar.set_prefix(stage);
        StageBar {
            bar,
            span: self.timings.start(stage),
        }
    }
}

const SPINNER: &str = "{prefix:>10.bold} {spinner} {wide_msg}";
const ROWS: &str = "{prefix:>10.bold} {spinner} {human_pos:>7} rows read  {wide_msg}";
const QUERIES: &str = "{prefix:>10.bold} [{bar:30}] {pos:>3}/{len} queries  {wide_msg}";
const MODELS: &str = "{prefix:>10.bold} [{bar:30}] {pos}/{len} models  {wide_msg}";

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file, so a bad one is a bug the tests catch.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// One stage's bar: each stage's events move it. Cloned into the thread a stage runs on.
#[derive(Clone)]
pub struct StageBar {
    bar: ProgressBar,
    span: SpanId,
}

impl StageBar {
    /// Shows what the stage is doing.
    pub fn step(&self, step: impl Into<String>) {
        self.bar.set_message(step.into());
    }

    /// Ingest: the file being read and the rows read so far, over all files.
    pub fn ingest(&self, p: evalpipe_ingest::Progress) {
        match p {
            evalpipe_ingest::Progress::File { file, index, files } => {
                if index == 1 {
                    self.bar.set_style(style(ROWS));
                }
                self.bar.set_message(format!("{file} ({index} of {files})"));
            }
            evalpipe_ingest::Progress::Rows { rows, .. } => self.bar.inc(rows as u64),
        }
    }

    /// Transform: queries done of all, and the last table written.
    pub fn transform(&self, p: &evalpipe_transform::Progress) {
        let evalpipe_transform::Progress::Table {
            table,
            materialized,
            done,
            total,
            rows,
            reused,
            elapsed,
            ..
        } = p;
        if !*reused {
            let view = *materialized == evalpipe_transform::Materialized::View;
            self.span
                .table(table, *elapsed, (!view).then_some(*rows as u64));
        }
        if self.bar.length() != Some(*total as u64) {
            self.bar.set_style(style(QUERIES));
            self.bar.set_length(*total as u64);
        }
        self.bar.set_position(*done as u64);
        let how = if *reused { "reused" } else { "rows" };
        self.bar.set_message(format!("{table} ({rows} {how})"));
    }

    /// Models: the model being fitted, and how many are done.
    pub fn models(&self, p: evalpipe_models::Progress) {
        let evalpipe_models::Progress::Model {
            id,
            table,
            index,
            models,
        } = p;
        if self.bar.length() != Some(models as u64) {
            self.bar.set_style(style(MODELS));
            self.bar.set_length(models as u64);
        }
        self.bar.set_position(index as u64 - 1);
        self.bar
            .set_message(format!("fitting {id} (Table {table})"));
    }

    /// Framework: the step, and the counting queries done.
    pub fn framework(&self, p: evalpipe_framework::Progress) {
        match p {
            evalpipe_framework::Progress::Step { step } => self.bar.set_message(step),
            evalpipe_framework::Progress::Query { table, done, total } => self
                .bar
                .set_message(format!("counting: {table} ({done} of {total})")),
        }
    }

    /// The stage's work is over, though its bar stays until the run joins it.
    pub fn work_done(&self) {
        self.span.end();
    }

    /// Rows the stage read (for the timings' rows per second).
    pub fn rows(&self, rows: u64) {
        self.span.rows(rows);
    }

    /// Clears the bar: its stage is over (its summary line says how it went).
    pub fn done(&self) {
        self.span.end();
        if let Some(n) = self.bar.length() {
            self.bar.set_position(n);
        }
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_no_bar_is_drawn_and_lines_are_plain() {
        for (quiet, terminal) in [(false, false), (true, false), (true, true)] {
            let d = Display::with(quiet, terminal);
            assert!(d.bars.is_none(), "quiet {quiet}, terminal {terminal}");
            assert!(d.stage("ingest").bar.is_hidden());
        }
        assert!(Display::with(false, true).bars.is_some());
    }

    #[test]
    fn every_template_parses() {
        for t in [SPINNER, ROWS, QUERIES, MODELS] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn ingest_rows_add_up_over_files() {
        use evalpipe_ingest::Progress::{File, Rows};
        let bar = Display::with(false, false).stage("ingest");
        let file = |f: &str, index| File {
            file: f.into(),
            index,
            files: 2,
        };
        let rows = |f: &str, rows| Rows {
            file: f.into(),
            rows,
        };
        bar.ingest(file("mi_L1_20220131.csv", 1));
        bar.ingest(rows("mi_L1_20220131.csv", 500));
        bar.ingest(rows("mi_L1_20220131.csv", 23));
        bar.ingest(file("claims_20220131.csv", 2));
        assert_eq!(bar.bar.message(), "claims_20220131.csv (2 of 2)");
        bar.ingest(rows("claims_20220131.csv", 500));
        bar.ingest(rows("claims_20220131.csv", 7));
        assert_eq!(bar.bar.position(), 523 + 507);
    }

    #[test]
    fn transform_and_models_count_done_of_all() {
        let bar = Display::with(false, false).stage("transform");
        for done in 1..=3 {
            bar.transform(&evalpipe_transform::Progress::Table {
                table: format!("t{done}"),
                kind: evalpipe_transform::TableKind::Output,
                materialized: evalpipe_transform::Materialized::Table,
                done,
                total: 76,
                rows: 9,
                reused: done == 3,
                elapsed: std::time::Duration::from_millis(5),
            });
        }
        assert_eq!((bar.bar.position(), bar.bar.length()), (3, Some(76)));
        assert_eq!(bar.bar.message(), "t3 (9 reused)");
        bar.done();
        assert_eq!(bar.bar.position(), 76);

        let bar = Display::with(false, false).stage("models");
        bar.models(evalpipe_models::Progress::Model {
            id: "sustained_13".into(),
            table: "A-31".into(),
            index: 2,
            models: 3,
        });
        assert_eq!((bar.bar.position(), bar.bar.length()), (1, Some(3)));
        assert_eq!(bar.bar.message(), "fitting sustained_13 (Table A-31)");
    }
}
