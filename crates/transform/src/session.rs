//! The one place a DataFusion session is configured.
//!
//! Every query of a run executes in the context built here, so a change of engine (a later issue
//! runs the same queries on Ballista) or of a setting touches this file only.

use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;

/// Settings of the query session. The defaults make output independent of the machine: one
/// partition, so no result depends on how many cores happened to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfigSpec {
    /// Partitions DataFusion plans for. Outputs are sorted by every query's `order by`, so more
    /// partitions change speed, not results; 1 keeps even intermediate batches reproducible.
    pub target_partitions: usize,
    /// Rows per record batch.
    pub batch_size: usize,
}

impl Default for SessionConfigSpec {
    fn default() -> Self {
        SessionConfigSpec {
            target_partitions: 1,
            batch_size: 8192,
        }
    }
}

/// Builds the session every query of a run executes in.
///
/// Besides the spec's sizes it fixes two DataFusion defaults that would otherwise make types
/// depend on how a table was produced: strings read from Parquet and strings in SQL casts are
/// plain `Utf8` (DataFusion 55 would make them `Utf8View`), so output tables have the types ingest
/// writes and later stages read them without knowing DataFusion.
pub fn session(spec: &SessionConfigSpec) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(spec.target_partitions.max(1))
        .with_batch_size(spec.batch_size.max(1))
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
    SessionContext::new_with_config(config)
}
