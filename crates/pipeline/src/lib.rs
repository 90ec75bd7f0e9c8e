//! Orchestration of an evalpipe run: ingest → transform → models → framework → report into one
//! run folder, as the stage table ([`STAGES`]) declares them.
//!
//! From that one table follow which stages are stale against the run already in the folder
//! ([`stale`]), which unchanged stages' outputs are copied rather than recomputed, the
//! manifest's stage summaries and the progress events ([`Event`]) a front end draws. The run
//! folder is guarded ([`outdir`]): checked before any work, locked while a run writes it, built
//! beside the target and swapped in whole, and never a folder evalpipe did not make.
//!
//! The stage libraries know nothing of each other or of terminals; this crate knows every
//! stage and no terminal. The command line (`crates/cli`) parses arguments into a [`Request`],
//! draws the [`Event`]s and prints the outcome.
#![warn(missing_docs)]

mod dashboard;
mod error;
pub mod hashes;
pub mod outdir;
mod run;
mod sensitivity;
mod stage;
pub mod stale;

pub use dashboard::{DashboardOutcome, DashboardRequest, write_dashboard};
pub use error::{Error, Result};
pub use run::{Event, Events, Plan, Request, RunOutcome, plan, run, status};
pub use sensitivity::{SensitivityRequest, sensitivity};
pub use stage::{
    NOT_READ_BY_A_RUN, QUERIES_NOT_READ_BY_A_RUN, STAGES, Source, Stage, StageDef, Start,
};
