//! Chart tests on small hand-made tables: what is drawn, where, and that it is drawn the same way
//! every time.

use std::collections::BTreeMap;

use minijinja::Value;

use super::*;

/// Tables given as rows of `(column, value)`.
#[derive(Default)]
struct Fake(BTreeMap<String, Value>);

impl Fake {
    fn with(mut self, name: &str, rows: Vec<Vec<(&str, Value)>>) -> Fake {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                Value::from(
                    r.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<BTreeMap<String, Value>>(),
                )
            })
            .collect();
        self.0.insert(name.to_string(), Value::from(rows));
        self
    }
}

impl Source for Fake {
    fn table(&self, name: &str) -> Result<Value, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("table `{name}` not found"))
    }
}

#[test]
fn every_id_is_listed_once() {
    let mut ids: Vec<&str> = CHARTS.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CHARTS.len());
    assert!(draw("no_such_chart", &Fake::default()).is_err());
}
