//! The one place a DataFusion session is configured.
//!
//! Every query of a run executes in the context built here, so a change of engine (a later issue
//! runs the same queries on Ballista) or of a setting touches this file only.

use std::sync::{Arc, Mutex, Weak};

use datafusion::execution::context::SessionContext;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;

/// Memory the query engine may hold at once before its sorts and aggregations spill to disk (the
/// operating system's temporary folder), when the machine's memory cannot be read.
pub const DEFAULT_MEMORY_LIMIT: usize = 4 << 30;

/// The engine's default memory limit: half the machine's memory (Linux's `MemTotal`), else
/// [`DEFAULT_MEMORY_LIMIT`]. Half, because an operator that cannot spill (a hash join's table)
/// fails its query at the limit, which a lower default would make happen on extracts that fit;
/// the rest is the readers', writers' and the other stages'. Results never depend on it.
pub fn default_memory_limit() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024) / 2)
        })
        .unwrap_or(DEFAULT_MEMORY_LIMIT)
}

/// Settings of the query session. The defaults make output independent of the machine: one
/// partition, so no result depends on how many cores happened to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfigSpec {
    /// Partitions DataFusion plans for. Outputs are sorted by every query's `order by`, so more
    /// partitions change speed, not results; 1 keeps even intermediate batches reproducible.
    pub target_partitions: usize,
    /// Rows per record batch.
    pub batch_size: usize,
    /// Bytes of memory the engine's operators may reserve together ([`default_memory_limit`]);
    /// past it a sort or aggregation spills to disk, and an operator that cannot spill (a hash
    /// join's table) fails the query saying so. Spilling changes speed, not results: every
    /// query's `order by` decides its row order.
    pub memory_limit: usize,
}

impl Default for SessionConfigSpec {
    fn default() -> Self {
        SessionConfigSpec {
            target_partitions: 1,
            batch_size: 8192,
            memory_limit: default_memory_limit(),
        }
    }
}

/// Builds the session every query of a run executes in.
///
/// Besides the spec's sizes it fixes two DataFusion defaults that would otherwise make types
/// depend on how a table was produced: strings read from Parquet and strings in SQL casts are
/// plain `Utf8` (DataFusion 55 would make them `Utf8View`), so output tables have the types ingest
/// writes and later stages read them without knowing DataFusion.
pub fn session(
    spec: &SessionConfigSpec,
) -> Result<SessionContext, datafusion::error::DataFusionError> {
    let config = SessionConfig::new()
        .with_target_partitions(spec.target_partitions.max(1))
        .with_batch_size(spec.batch_size.max(1))
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
    // A fair pool shares the limit among the operators that can spill, so two queries running
    // at once both make progress rather than one starving the other.
    // A sort keeps back memory to merge what it spilled: DataFusion's 10 MiB, or an eighth of
    // a smaller limit, so that a small limit spills rather than fails.
    let limit = spec.memory_limit.max(1 << 20);
    let config = config.set_usize(
        "datafusion.execution.sort_spill_reservation_bytes",
        (limit / 8).min(10 << 20),
    );
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(shared_pool(limit))
        .build_arc()?;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// The pool of every live session with this limit. In one `evalpipe run` the models start
/// while the transform's last queries run, each in a session of its own: the limit is what the
/// engine holds in the whole process, not what each stage may.
fn shared_pool(limit: usize) -> Arc<dyn MemoryPool> {
    static POOLS: Mutex<Vec<(usize, Weak<FairSpillPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    pools.retain(|(_, pool)| pool.strong_count() > 0);
    if let Some(pool) = pools
        .iter()
        .find(|(l, _)| *l == limit)
        .and_then(|(_, pool)| pool.upgrade())
    {
        return pool;
    }
    let pool = Arc::new(FairSpillPool::new(limit));
    pools.push((limit, Arc::downgrade(&pool)));
    pool
}
