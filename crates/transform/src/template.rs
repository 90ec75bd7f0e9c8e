//! Query files as templates: SQL that the study's configuration writes.
//!
//! Most queries join to the reference tables and need nothing else. A query whose *columns*
//! follow the configuration cannot: SQL has no pivot, so a table with one column per
//! characteristic has to name each one. Rather than repeat `pipeline/study.toml` in SQL (and
//! drift from it), such a file is a minijinja template, as dbt's models are Jinja: it loops
//! over `characteristics` and the run renders it before anything else reads it. A file without
//! template syntax renders to itself.
//!
//! What a template sees:
//! - `characteristics`: every characteristic the tables break down by, in the order of the
//!   reference table `characteristic_values` (the structural ones, then the study's
//!   `[[characteristic]]`s), each with `name`, `title`, `column` (its column of
//!   `participants`), `column_type` (`text`, `flag`, `number` or `date`: how that column is
//!   stored), `banded` (categories are bands of a number, not codes), `values` (the rows of
//!   `characteristic_values`: `category`, `category_order`, `code`, `lower`, `upper`) and
//!   `categories` (each category once: `category`, `category_order`);
//! - filters `sql` (a value as an SQL literal: text quoted, none as `null`) and `ident` (a
//!   name as a quoted SQL identifier).
//!
//! Undefined names are errors, so a misspelt field fails the run naming the file, not as SQL
//! that silently lacks a column.

use std::path::Path;

use arrow::datatypes::{DataType, Schema};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::reference::CategoryValue;
use crate::{Error, Result};

/// What every template is rendered with.
#[derive(Debug, Serialize)]
pub(crate) struct TemplateContext {
    characteristics: Vec<Characteristic>,
}

#[derive(Debug, Serialize)]
struct Characteristic {
    name: String,
    title: String,
    column: String,
    column_type: &'static str,
    banded: bool,
    values: Vec<CharacteristicValue>,
    categories: Vec<Category>,
}

#[derive(Debug, Serialize)]
struct CharacteristicValue {
    category: String,
    category_order: i64,
    code: Option<String>,
    lower: Option<f64>,
    upper: Option<f64>,
}

#[derive(Debug, PartialEq, Serialize)]
struct Category {
    category: String,
    category_order: i64,
}

impl TemplateContext {
    /// The context from the rows of `characteristic_values` and the schema of `participants`
    /// (each characteristic's column type; a column it lacks is left to the SQL to report).
    pub(crate) fn new(rows: &[CategoryValue], participants: &Schema) -> TemplateContext {
        let mut characteristics: Vec<Characteristic> = Vec::new();
        for r in rows {
            if characteristics
                .last()
                .is_none_or(|c| c.name != r.characteristic)
            {
                let column_type = match participants
                    .field_with_name(&r.column)
                    .map(|f| f.data_type())
                {
                    Ok(DataType::Date32 | DataType::Date64) => "date",
                    Ok(DataType::Boolean) => "flag",
                    Ok(t) if t.is_numeric() => "number",
                    _ => "text",
                };
                characteristics.push(Characteristic {
                    name: r.characteristic.clone(),
                    title: r.title.clone(),
                    column: r.column.clone(),
                    column_type,
                    banded: r.code.is_none(),
                    values: Vec::new(),
                    categories: Vec::new(),
                });
            }
            let c = characteristics.last_mut().expect("pushed above");
            c.values.push(CharacteristicValue {
                category: r.category.clone(),
                category_order: r.category_order,
                code: r.code.clone(),
                lower: r.lower,
                upper: r.upper,
            });
            let category = Category {
                category: r.category.clone(),
                category_order: r.category_order,
            };
            if !c.categories.contains(&category) {
                c.categories.push(category);
            }
        }
        TemplateContext { characteristics }
    }
}

/// `sql` rendered with `context`; `path` names the file in errors.
pub(crate) fn render(path: &Path, sql: &str, context: &TemplateContext) -> Result<String> {
    // Plain SQL (nearly every file) is taken as it is, braces in string literals included.
    if !["{{", "{%", "{#"].iter().any(|open| sql.contains(open)) {
        return Ok(sql.to_string());
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on lines of their own leave no blank lines in the SQL that ran.
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| Error::Internal {
            context: "configuring the query templates".into(),
            message: e.to_string(),
        })?;
    env.set_syntax(syntax);
    env.add_filter("sql", sql_literal);
    env.add_filter("ident", sql_identifier);
    let fail = |e: minijinja::Error| Error::Header {
        query: path.to_path_buf(),
        message: format!("the query is a template that does not render: {e:#}"),
    };
    let template = env.template_from_str(sql).map_err(fail)?;
    template.render(Serde(context)).map_err(fail)
}

/// A value as an SQL literal: text in single quotes (a quote doubled), a number as written,
/// none as `null`.
fn sql_literal(value: Value) -> String {
    if value.is_none() || value.is_undefined() {
        "null".into()
    } else if let Some(text) = value.as_str() {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        value.to_string()
    }
}

/// A name as a quoted SQL identifier (a double quote doubled), so a characteristic may be
/// called `all` or hold capitals.
fn sql_identifier(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(characteristic: &str, column: &str, category: &str, order: i64) -> CategoryValue {
        CategoryValue {
            characteristic: characteristic.into(),
            title: characteristic.into(),
            column: column.into(),
            kind: "labels",
            category_order: order,
            category: category.into(),
            code: Some(category.to_lowercase()),
            lower: None,
            upper: None,
        }
    }

    #[test]
    fn characteristics_group_their_rows_and_list_each_category_once() {
        let mut band = row("age", "age_at_registration", "16–24", 1);
        (band.code, band.lower, band.upper) = (None, Some(16.0), Some(25.0));
        let rows = vec![
            row("sex", "gender", "Male", 1),
            row("sex", "gender", "Female", 2),
            row("sex", "gender", "Female", 2),
            band,
        ];
        let schema = Schema::new(vec![
            arrow::datatypes::Field::new("gender", DataType::Utf8, true),
            arrow::datatypes::Field::new("age_at_registration", DataType::Int64, true),
        ]);
        let context = TemplateContext::new(&rows, &schema);
        let sql = "{% for c in characteristics %}{{ c.name | ident }} {{ c.column_type }} \
                   {{ c.banded }} {{ c.values | length }}/{{ c.categories | length }} \
                   {{ c.values[0].upper | sql }} {{ c.categories[0].category | sql }};{% endfor %}";
        let out = render(Path::new("q.sql"), sql, &context).unwrap();
        assert_eq!(
            out,
            "\"sex\" text False 3/2 null 'Male';\"age\" number True 1/1 25.0 '16–24';"
        );
    }

    #[test]
    fn plain_sql_is_untouched_and_a_broken_template_names_the_file() {
        let context = TemplateContext::new(&[], &Schema::empty());
        let plain = "select 'it''s' as x -- }}\n";
        assert_eq!(render(Path::new("q.sql"), plain, &context).unwrap(), plain);
        let quoted = render(Path::new("q.sql"), "{{ \"O'Neil\" | sql }}", &context).unwrap();
        assert_eq!(quoted, "'O''Neil'");
        let e = render(
            Path::new("queries/staging/wide.sql"),
            "select {{ characteristic }}",
            &context,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("queries/staging/wide.sql: "), "{e}");
        assert!(e.contains("undefined"), "{e}");
    }
}
