//! The data dictionary as a document a provider reads beside the tool: every column of the MI
//! and the claims extract with its type, code list and labels, whether it is required, the
//! rules it is checked by, and which of the report's tables use it (from the queries' headers).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use evalpipe_study::{Dictionary, Study};
use evalpipe_transform::{QueryFile, TableKind};

use crate::{Error, Result, column_spec, explain};

/// The tables ingest makes of each dataset, which the queries read.
fn dataset_tables(dataset: &str) -> &'static [&'static str] {
    match dataset {
        "mi" => &["participants", "participant_answers"],
        "claims" => &["claims"],
        _ => &[],
    }
}

/// Whether `sql` names `word` as a whole identifier or string.
fn names(sql: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    sql.match_indices(word).any(|(at, _)| {
        let before = sql[..at].chars().next_back();
        let after = sql[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The report's tables (the output queries) that use a column or question of a dataset: those
/// computed, directly or through staging tables, from the dataset's tables, whose own SQL names
/// one of `words` (the column, or a characteristic read from it; the question). A query's
/// header says which tables it reads, not which columns, so the words stand for the columns.
fn used_by(queries: &[(QueryFile, TableKind)], tables: &[&str], words: &[&str]) -> Vec<String> {
    let mut from_dataset: BTreeSet<&str> = tables.iter().copied().collect();
    loop {
        let more: Vec<&str> = queries
            .iter()
            .map(|(q, _)| q.header.table.as_str())
            .zip(queries)
            .filter(|(t, (q, _))| {
                !from_dataset.contains(t)
                    && q.header
                        .reads
                        .iter()
                        .any(|r| from_dataset.contains(r.as_str()))
            })
            .map(|(t, _)| t)
            .collect();
        if more.is_empty() {
            break;
        }
        from_dataset.extend(more);
    }
    queries
        .iter()
        .filter(|(q, kind)| {
            *kind == TableKind::Output
                && from_dataset.contains(q.header.table.as_str())
                && words.iter().any(|w| names(&q.sql, w))
        })
        .map(|(q, _)| q.header.table.clone())
        .collect()
}

/// The data dictionary as Markdown.
pub fn dictionary_markdown(study: &Study, queries_dir: &Path) -> Result<String> {
    let query_error = |e: evalpipe_transform::Error| Error::Queries {
        path: queries_dir.to_path_buf(),
        message: e.to_string(),
    };
    let queries: Vec<(QueryFile, TableKind)> = evalpipe_transform::discover_queries(queries_dir)
        .map_err(query_error)?
        .into_iter()
        .map(|(path, kind)| QueryFile::read(&path).map(|q| (q, kind)))
        .collect::<std::result::Result<_, _>>()
        .map_err(query_error)?;
    let mut md = String::new();
    let _ = writeln!(md, "# {}: data dictionary\n", study.info.title);
    let _ = writeln!(
        md,
        "The input contract of the evaluation, column by column: what providers send in the data \
         tool (one workbook per lot) and what the commissioner's claims extract holds. Every \
         rule below is the one evalpipe's validation applies; a row that breaks one is \
         quarantined with the rule, the row and the column named. The report tables listed \
         against a column are those computed from its extract whose query names the column, \
         or a characteristic made from it; a table that uses it only through a flag derived \
         from it (job outcomes from `job_start_date`) is not listed.\n"
    );
    for dict in [&study.mi, &study.claims] {
        dataset_section(&mut md, study, dict, &queries);
    }
    Ok(md)
}

fn dataset_section(
    md: &mut String,
    study: &Study,
    dict: &Dictionary,
    queries: &[(QueryFile, TableKind)],
) {
    let d = &dict.dataset;
    let tables = dataset_tables(&d.name);
    let _ = writeln!(md, "## {} (`{}`)\n", d.description, d.name);
    let file = if d.per_lot {
        format!(
            "`{}_<LOT>_<YYYYMMDD>.csv` or `.xlsx`, one per lot",
            d.file_prefix
        )
    } else {
        format!("`{}_<YYYYMMDD>.csv`", d.file_prefix)
    };
    let _ = writeln!(md, "- Files: {file}.");
    if let Some(sheet) = &d.workbook_sheet {
        let _ = writeln!(md, "- Workbook sheet: `{sheet}` (header in row 1).");
    }
    let _ = writeln!(
        md,
        "- Key: `{}`, unique within a file; dates as `{}`.\n",
        d.key, d.date_format
    );
    let _ = writeln!(md, "| column | what it holds | report tables naming it |");
    let _ = writeln!(md, "| --- | --- | --- |");
    for c in &dict.columns {
        let (spec, label) = column_spec(study, dict, &c.name);
        let mut words = vec![c.name.as_str()];
        words.extend(
            study
                .characteristics
                .iter()
                .filter(|k| k.column == c.name)
                .map(|k| k.name.as_str()),
        );
        let used = used_by(queries, tables, &words);
        let _ = writeln!(
            md,
            "| `{}` | {} | {} |",
            c.name,
            explain(&spec, label, dict).replace('|', "/"),
            if used.is_empty() {
                "—".to_string()
            } else {
                used.join(", ")
            }
        );
    }
    let _ = writeln!(md);
    let lists: BTreeMap<&str, ()> = dict
        .columns
        .iter()
        .filter_map(|c| c.codes.as_deref())
        .chain(dict.questions.iter().map(|q| q.options.as_str()))
        .map(|l| (l, ()))
        .collect();
    for q in &dict.questions {
        let used = used_by(queries, tables, &[q.id.as_str()]);
        let _ = writeln!(
            md,
            "**{}** (`{}`): a `Y`/`N` column `{}<option>` per option of the `{}` list{}; used \
             by {}.\n",
            q.label,
            q.id,
            q.column_prefix,
            q.options,
            q.applies_when.as_ref().map_or(String::new(), |a| format!(
                ", only when {} is {}",
                a.column,
                a.values.join(" or ")
            )),
            if used.is_empty() {
                "—".to_string()
            } else {
                used.join(", ")
            }
        );
    }
    for list in lists.keys() {
        let _ = writeln!(md, "### Code list `{list}`\n");
        let _ = writeln!(md, "| code | label |");
        let _ = writeln!(md, "| --- | --- |");
        for code in study.code_list(list) {
            let _ = writeln!(md, "| `{}` | {} |", code.code, code.label.replace('|', "/"));
        }
        let _ = writeln!(md);
    }
}

/// Writes `data_dictionary.md` and `.html` into `out`; returns their paths.
pub fn write_dictionary(study: &Study, queries_dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let md = dictionary_markdown(study, queries_dir)?;
    let mut body = String::new();
    let options = pulldown_cmark::Options::ENABLE_TABLES;
    pulldown_cmark::html::push_html(&mut body, pulldown_cmark::Parser::new_ext(&md, options));
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} — data \
         dictionary</title>\n<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem \
         auto;line-height:1.4}}table{{border-collapse:collapse}}td,th{{border:1px solid \
         #ccc;padding:.2rem .5rem;vertical-align:top}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        study.info.title
    );
    let mut written = Vec::new();
    for (name, text) in [("data_dictionary.md", &md), ("data_dictionary.html", &html)] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Folder {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The dictionary's PDF, beside its HTML.
pub const DICTIONARY_PDF: &str = "data_dictionary.pdf";

/// Prints `out/data_dictionary.html` (written by [`write_dictionary`]) to
/// `out/data_dictionary.pdf` with the Chromium on `PATH`, as the report is printed; `None` when
/// Chromium is not installed.
pub fn print_dictionary(out: &Path) -> Result<Option<PathBuf>> {
    let Some(chromium) = evalpipe_report::pdf::find_chromium() else {
        return Ok(None);
    };
    let (html, pdf) = (out.join("data_dictionary.html"), out.join(DICTIONARY_PDF));
    evalpipe_report::pdf::print_html(&chromium, &html, &pdf)
        .map(Some)
        .map_err(|(path, why)| Error::Pdf {
            path,
            message: match why {
                evalpipe_report::pdf::Printing::Failed(m) => m,
                evalpipe_report::pdf::Printing::Write(e) => e.to_string(),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn a_column_is_named_as_a_whole_word() {
        assert!(names("select gender from p", "gender"));
        assert!(names("where q = 'how_heard'", "how_heard"));
        assert!(!names("select gender_band from p", "gender"));
        assert!(!names("select regender from p", "gender"));
    }
}
