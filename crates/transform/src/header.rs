//! The contract at the top of every query file (STYLE.md §5).
//!
//! ```sql
//! -- table:    participants_by_cohort
//! -- produces: report Table 2-1 (participants engaged, by cohort)
//! -- grain:    one row per cohort, plus a total row
//! -- reads:    participant_outcomes, cohorts
//! -- base (N): MI participants with a cohort
//! -- checks:   cohort_code unique; cohort rows add up to the total row
//! ```
//!
//! A line `--` followed by spaces and no key continues the previous field, so long descriptions
//! can wrap. The header ends at the first line that is not a `--` comment.
//!
//! Two keys are optional, after `checks`: `-- joins: as written`, for a query whose joins must
//! hold the side the query writes first (see [`JoinSides`]), and `-- materialized: view`, for a
//! staging table its readers compute as they read it rather than a file (see [`Materialized`]).

use std::path::Path;

use crate::{Error, Result};

/// The parsed header of a query file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryHeader {
    /// Output table; equals the file stem.
    pub table: String,
    /// What the table is for (a report table or figure, or a staging step).
    pub produces: String,
    /// What one row is.
    pub grain: String,
    /// Tables the query reads, in the order written.
    pub reads: Vec<String>,
    /// Who the percentages are of: the N every output table carries.
    pub base: String,
    /// Properties the output must have, in words (checked by tests and the `check` stage).
    pub checks: String,
    /// Which side of each join the engine holds in memory.
    pub joins: JoinSides,
    /// Whether the table is written to a file or computed by each query that reads it.
    pub materialized: Materialized,
}

/// Whether a query's table is written to a file (a table) or is a view: a name for the query
/// that each reader plans into its own query, so the rows are computed as they are read and
/// never stored (dbt's `materialized` setting, with the same two words).
///
/// A view suits a staging table that is many times bigger than the table it reshapes and that
/// its readers only aggregate: `participant_characteristics` is 16 rows per participant (160M
/// at 10M participants), where writing it took longer than every reader's aggregation together.
/// A view has no file, no row count and no order; a table that people read is never one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Materialized {
    /// Written to `tables/<table>.parquet` (no `materialized:` line).
    #[default]
    Table,
    /// `-- materialized: view`.
    View,
}

/// Which side of a join the engine holds (its build side) while the other streams through.
///
/// A join keeps the order of the side that streams, so a query that writes a participant
/// table in its extract order needs that table to stream and the smaller side to be held.
/// The engine's own choice goes by its estimate of the inputs' sizes, and an aggregate's
/// estimate is its input's: one row per claim where one per participant comes out. At 10M
/// participants that choice held every participant and sorted the result again, 3.7 GB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JoinSides {
    /// The engine chooses by its size estimates (no `joins:` line).
    #[default]
    BySize,
    /// `-- joins: as written`: the side written first (`from held join streamed`) is held.
    AsWritten,
}

/// The header keys, in the order STYLE.md writes them; `joins` and `materialized` are optional.
const KEYS: [&str; 8] = [
    "table",
    "produces",
    "grain",
    "reads",
    "base (N)",
    "checks",
    "joins",
    "materialized",
];

impl QueryHeader {
    /// Parses the header of `sql`, read from `path` (named in errors).
    pub fn parse(path: &Path, sql: &str) -> Result<QueryHeader> {
        let err = |message: String| Error::Header {
            query: path.to_path_buf(),
            message,
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in sql.lines() {
            let Some(comment) = line.trim_start().strip_prefix("--") else {
                break;
            };
            let text = comment.trim();
            let key = text
                .split_once(':')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, _)| KEYS.contains(k));
            match (key, fields.last_mut()) {
                (Some((k, v)), _) => {
                    if fields.iter().any(|(seen, _)| seen == k) {
                        return Err(err(format!("`{k}:` appears twice in the header")));
                    }
                    fields.push((k.to_string(), v.to_string()));
                }
                // A continuation line: wrapped text of the previous field.
                (None, Some((_, value))) if !text.is_empty() => {
                    value.push(' ');
                    value.push_str(text);
                }
                // Blank comment lines and comments before the first key are ignored.
                _ => {}
            }
        }
        let take = |key: &str| -> Result<String> {
            match fields.iter().find(|(k, _)| k == key) {
                Some((_, v)) if !v.is_empty() => Ok(v.clone()),
                Some(_) => Err(err(format!("`-- {key}:` is empty"))),
                None => Err(err(format!(
                    "the header lacks `-- {key}:`; every query starts with the six lines \
                     table, produces, grain, reads, base (N), checks (STYLE.md §5)"
                ))),
            }
        };
        let header = QueryHeader {
            table: take("table")?,
            produces: take("produces")?,
            grain: take("grain")?,
            reads: take("reads")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            base: take("base (N)")?,
            checks: take("checks")?,
            joins: match fields.iter().find(|(k, _)| k == "joins") {
                None => JoinSides::BySize,
                Some((_, v)) if v.starts_with("as written") => JoinSides::AsWritten,
                Some((_, v)) => {
                    return Err(err(format!(
                        "`-- joins: {v}` is not understood: the one value is `as written` \
                         (each join holds the side written first); without the line the \
                         engine chooses by size"
                    )));
                }
            },
            materialized: match fields.iter().find(|(k, _)| k == "materialized") {
                None => Materialized::Table,
                Some((_, v)) if v.starts_with("view") => Materialized::View,
                Some((_, v)) if v.starts_with("table") => Materialized::Table,
                Some((_, v)) => {
                    return Err(err(format!(
                        "`-- materialized: {v}` is not understood: `table` (written to a \
                         file, as without the line) or `view` (computed by each query that \
                         reads it)"
                    )));
                }
            },
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if header.table != stem {
            return Err(err(format!(
                "`-- table: {}` differs from the file name `{stem}.sql`; one file makes one \
                 table of the same name, so rename one of them",
                header.table
            )));
        }
        if !is_table_name(&header.table) {
            return Err(err(format!(
                "`{}` is not a table name: use lower-case letters, digits and `_`",
                header.table
            )));
        }
        Ok(header)
    }
}

/// Lower-case snake case, starting with a letter: a name that is the same in SQL, in a file name
/// and in a template.
pub(crate) fn is_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
-- table:    starts_by_lot
-- produces: report Table A-nn (job starts by lot
--           and cohort)
-- grain:    one row per lot × cohort
-- reads:    participants, job_outcomes
-- base (N): participants with signed consent
-- checks:   lot, cohort not null; (lot, cohort) unique

select 1
";

    #[test]
    fn parses_the_style_guide_example_with_a_wrapped_line() {
        let h = QueryHeader::parse(Path::new("queries/starts_by_lot.sql"), GOOD).unwrap();
        assert_eq!(h.table, "starts_by_lot");
        assert_eq!(
            h.produces,
            "report Table A-nn (job starts by lot and cohort)"
        );
        assert_eq!(h.reads, ["participants", "job_outcomes"]);
        assert_eq!(h.base, "participants with signed consent");
    }

    #[test]
    fn table_must_equal_the_file_stem() {
        let e = QueryHeader::parse(Path::new("queries/other.sql"), GOOD).unwrap_err();
        assert!(e.to_string().contains("differs from the file name"), "{e}");
    }

    #[test]
    fn a_missing_key_is_named() {
        let sql = GOOD.replace("-- grain:    one row per lot × cohort\n", "");
        let e = QueryHeader::parse(Path::new("queries/starts_by_lot.sql"), &sql).unwrap_err();
        assert!(e.to_string().contains("`-- grain:`"), "{e}");
    }

    #[test]
    fn joins_are_the_engines_choice_unless_the_header_says_as_written() {
        let path = Path::new("queries/starts_by_lot.sql");
        assert_eq!(
            QueryHeader::parse(path, GOOD).unwrap().joins,
            JoinSides::BySize
        );
        let written = GOOD.replace(
            "\nselect",
            "-- joins:    as written: the cut-offs are held, the claims stream\nselect",
        );
        assert_eq!(
            QueryHeader::parse(path, &written).unwrap().joins,
            JoinSides::AsWritten
        );
        let other = GOOD.replace("\nselect", "-- joins:    smallest first\nselect");
        let e = QueryHeader::parse(path, &other).unwrap_err();
        assert!(e.to_string().contains("`as written`"), "{e}");
    }

    #[test]
    fn a_table_is_written_unless_the_header_says_view() {
        let path = Path::new("queries/starts_by_lot.sql");
        assert_eq!(
            QueryHeader::parse(path, GOOD).unwrap().materialized,
            Materialized::Table
        );
        let view = GOOD.replace(
            "\nselect",
            "-- materialized: view: its readers aggregate it\nselect",
        );
        assert_eq!(
            QueryHeader::parse(path, &view).unwrap().materialized,
            Materialized::View
        );
        let other = GOOD.replace("\nselect", "-- materialized: ephemeral\nselect");
        let e = QueryHeader::parse(path, &other).unwrap_err();
        assert!(e.to_string().contains("`view`"), "{e}");
    }

    #[test]
    fn the_header_ends_at_the_first_sql_line() {
        let sql = "-- table: t\nselect 1\n-- produces: late\n";
        let e = QueryHeader::parse(Path::new("t.sql"), sql).unwrap_err();
        assert!(e.to_string().contains("`-- produces:`"), "{e}");
    }
}
