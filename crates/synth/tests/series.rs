//! The series of refreshes (`evalpipe synth --series`) against what a bi-monthly series of
//! provider refreshes is: the files are read back as a provider's extracts would be and every
//! property is checked with code written here, not with the generator's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate};
use common::{Row, date};
use evalpipe_synth::{DEFAULT_SEED, SeriesOptions, SynthOptions, generate, generate_series};

/// The default seed's series, written once for all tests of this binary.
fn series() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("synth-series");
        let _ = std::fs::remove_dir_all(&dir);
        generate_series(
            &common::study(),
            &common::twin(),
            &SeriesOptions {
                seed: DEFAULT_SEED,
                out: dir.clone(),
            },
        )
        .expect("series generates");
        dir
    })
}

/// A refresh as read back: its date, MI rows by (lot, provider_ref), the header of each lot's
/// file, its claims and its marker.
struct Refresh {
    date: NaiveDate,
    dir: PathBuf,
    mi: BTreeMap<(String, String), Row>,
    headers: BTreeMap<String, Vec<String>>,
    files: Vec<String>,
    claims: Vec<Row>,
    marker: toml::Table,
}

fn refreshes() -> &'static [Refresh] {
    static R: OnceLock<Vec<Refresh>> = OnceLock::new();
    R.get_or_init(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(series())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        dirs.into_iter().map(|dir| read_refresh(&dir)).collect()
    })
}

fn read_refresh(dir: &Path) -> Refresh {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let date = NaiveDate::parse_from_str(&name, "%Y%m%d")
        .unwrap_or_else(|_| panic!("{name} is not a YYYYMMDD folder"));
    let marker: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("SYNTHETIC.toml")).unwrap()).unwrap();
    // A renamed header is read as the column it stands for, so its rows can be followed.
    let renamed: BTreeMap<String, (String, String)> = renamed_columns(&marker)
        .into_iter()
        .map(|(lot, column, header)| (lot, (header, column)))
        .collect();
    let mut mi = BTreeMap::new();
    let mut headers = BTreeMap::new();
    for (lot, _, header, rows) in common::read_mi(dir) {
        for mut r in rows {
            if let Some((header, column)) = renamed.get(&lot) {
                let v = r.remove(header).unwrap();
                r.insert(column.clone(), v);
            }
            let key = (lot.clone(), r["provider_ref"].clone());
            assert!(mi.insert(key, r).is_none(), "{name}: a reference twice");
        }
        headers.insert(lot, header);
    }
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let (_, claims) = common::read_csv(&common::claims_file(dir));
    Refresh {
        date,
        dir: dir.to_path_buf(),
        mi,
        headers,
        files,
        claims,
        marker,
    }
}

fn planted(marker: &toml::Table) -> Option<&toml::Table> {
    marker.get("planted").and_then(|p| p.as_table())
}

fn missing_lots(marker: &toml::Table) -> Vec<String> {
    planted(marker)
        .map(|p| {
            p["missing_lots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// (lot, column, header) of each planted renamed column.
fn renamed_columns(marker: &toml::Table) -> Vec<(String, String, String)> {
    planted(marker)
        .map(|p| {
            p["renamed_columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap().to_string();
                    (s("lot"), s("column"), s("header"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lots() -> Vec<String> {
    common::study()
        .lots
        .iter()
        .map(|l| l.code.clone())
        .collect()
}

fn last_day_of_month(d: NaiveDate) -> bool {
    d.succ_opt().unwrap().day() == 1
}

#[test]
fn refreshes_are_bimonthly_month_ends_in_order_back_to_the_first_registration() {
    let r = refreshes();
    let dates: Vec<NaiveDate> = r.iter().map(|r| r.date).collect();
    assert!(dates.len() >= 18, "{dates:?}");
    assert_eq!(*dates.last().unwrap(), date("31/01/2022").unwrap());
    for pair in dates.windows(2) {
        assert!(last_day_of_month(pair[0]) && last_day_of_month(pair[1]));
        let next_month_end = |d: NaiveDate| {
            let first = d.with_day(1).unwrap() + Months::new(3);
            first.pred_opt().unwrap()
        };
        assert_eq!(
            next_month_end(pair[0]),
            pair[1],
            "{pair:?} are not two months apart"
        );
    }
    // Back to the first date with a participant: the final extract's first registration falls
    // in the two months up to the first refresh.
    let first_reg = r
        .last()
        .unwrap()
        .mi
        .values()
        .map(|row| date(&row["registration_date"]).unwrap())
        .min()
        .unwrap();
    let before_first = (dates[0].with_day(1).unwrap() - Months::new(1))
        .pred_opt()
        .unwrap();
    assert!(
        first_reg <= dates[0] && first_reg > before_first,
        "{first_reg}"
    );
    // Each folder is named by its date, its files too, and its marker says which it is.
    let n = dates.len() as i64;
    for (k, x) in r.iter().enumerate() {
        let stamp = x.date.format("%Y%m%d").to_string();
        for f in x.files.iter().filter(|f| *f != "SYNTHETIC.toml") {
            assert!(
                f.contains(&format!("_{stamp}.")),
                "{f} in {}",
                x.dir.display()
            );
        }
        assert_eq!(x.marker["synthetic"].as_bool(), Some(true));
        assert_eq!(x.marker["seed"].as_integer(), Some(DEFAULT_SEED as i64));
        assert_eq!(
            x.marker["extract_date"].as_str().unwrap(),
            x.date.to_string()
        );
        if k + 1 < r.len() {
            assert_eq!(x.marker["extract"].as_str(), Some("refresh"));
            assert_eq!(x.marker["refresh"].as_integer(), Some(k as i64 + 1));
            assert_eq!(x.marker["refreshes"].as_integer(), Some(n));
        } else {
            assert_eq!(x.marker["extract"].as_str(), Some("final"));
        }
        assert_eq!(
            x.marker["mi_participants"].as_integer(),
            Some(x.mi.len() as i64)
        );
        assert_eq!(x.marker["claims"].as_integer(), Some(x.claims.len() as i64));
    }
}

#[test]
fn each_refresh_is_the_people_as_they_stood_on_its_date() {
    let r = refreshes();
    let fin = &r.last().unwrap().mi;
    for x in r {
        let cut = x.date;
        for (key, row) in &x.mi {
            let f = fin
                .get(key)
                .unwrap_or_else(|| panic!("{key:?} of {cut} is not in the final extract"));
            assert_eq!(row["registration_date"], f["registration_date"], "{key:?}");
            assert!(date(&row["registration_date"]).unwrap() <= cut, "{key:?}");
            for (column, value) in row {
                if let Some(d) = date(value)
                    && column != "date_of_birth"
                {
                    assert!(
                        d <= cut,
                        "{cut}: {key:?} {column} {value} is after the date"
                    );
                }
            }
        }
        for c in &x.claims {
            for column in ["milestone_date", "submitted_date"] {
                assert!(date(&c[column]).unwrap() <= cut, "{cut}: claim {c:?}");
            }
        }
    }
}

#[test]
fn a_refresh_holds_everyone_of_the_one_before_except_a_missing_file() {
    let r = refreshes();
    let mut kept = 0;
    for pair in r.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let missing_in_b = missing_lots(&b.marker);
        for (lot, reference) in a.mi.keys() {
            if missing_in_b.contains(lot) {
                assert!(!b.headers.contains_key(lot));
                continue;
            }
            assert!(
                b.mi.contains_key(&(lot.clone(), reference.clone())),
                "{reference} of {lot} is in {} but not in {}",
                a.date,
                b.date
            );
            kept += 1;
        }
    }
    assert!(kept > 10_000, "{kept}");
}

#[test]
fn late_entries_appear_in_a_later_refresh() {
    let r = refreshes();
    let fin = &r.last().unwrap().mi;
    let mut late_then_entered = 0;
    for (k, x) in r[..r.len() - 1].iter().enumerate() {
        let missing = missing_lots(&x.marker);
        let mut late_here = 0;
        for (key, f) in fin {
            let reg = date(&f["registration_date"]).unwrap();
            if reg > x.date || missing.contains(&key.0) || x.mi.contains_key(key) {
                continue;
            }
            late_here += 1;
            // Late entries are of the last six months…
            let six_months_back = (x.date.with_day(1).unwrap() - Months::new(5))
                .pred_opt()
                .unwrap();
            assert!(
                reg > six_months_back,
                "{key:?} registered {reg} late on {}",
                x.date
            );
            // …and the next refresh with the lot's file holds the ones it entered.
            if r[k + 1].mi.contains_key(key) {
                late_then_entered += 1;
            }
        }
        let marked = planted(&x.marker).unwrap()["late_entries"]
            .as_integer()
            .unwrap() as usize;
        if missing.is_empty() {
            assert_eq!(late_here, marked, "{}", x.date);
        } else {
            assert!(late_here <= marked, "{}", x.date);
        }
    }
    assert!(late_then_entered > 200, "{late_then_entered}");
}

#[test]
fn provider_errors_are_corrected_by_the_next_refresh() {
    let study = common::study();
    let r = refreshes();
    let fin = &r.last().unwrap().mi;
    // Fields a record keeps from registration on: a difference is an error corrected later.
    let fixed = ["payment_group", "date_of_birth", "gender", "ethnicity"];
    let mut corrected: BTreeMap<&str, usize> = BTreeMap::new();
    for pair in r.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        for (key, row) in &a.mi {
            let Some(next) = b.mi.get(key) else {
                continue;
            };
            for column in fixed {
                if row[column] != next[column] {
                    // Corrected: the next refresh has it as the final extract does.
                    assert_eq!(next[column], fin[key][column], "{key:?} {column}");
                    *corrected.entry(column).or_default() += 1;
                }
            }
            // A job start dated before the registration is a typing error, corrected next.
            let (js, reg) = (
                date(&row["job_start_date"]),
                date(&row["registration_date"]),
            );
            if js.is_some_and(|j| j < reg.unwrap()) {
                assert_eq!(next["job_start_date"], fin[key]["job_start_date"]);
                assert!(date(&next["job_start_date"]).unwrap() >= reg.unwrap());
                *corrected.entry("job_start_date").or_default() += 1;
            }
        }
    }
    for column in fixed.iter().chain(&["job_start_date"]) {
        assert!(
            corrected.get(column).is_some_and(|n| *n > 0),
            "{corrected:?}"
        );
    }

    // Some errors are ones validation rejects (the rules checked by code of these tests): as
    // many rows as each refresh's marker says, none in the final extract.
    let mut rejected_total = 0;
    for x in r {
        let rejected =
            x.mi.iter()
                .filter(|((lot, _), row)| {
                    !common::row_findings(&study, &study.mi, row, Some(lot)).is_empty()
                })
                .count();
        assert_eq!(
            x.marker["mi_rows_planted_with_errors"].as_integer(),
            Some(rejected as i64),
            "{}",
            x.date
        );
        rejected_total += rejected;
    }
    assert!(rejected_total > 10, "{rejected_total}");
}

#[test]
fn the_planted_bad_files_are_in_the_files_as_listed() {
    let study = common::study();
    let expected = study.mi.expected_columns(&study.codes);
    let r = refreshes();
    let (mut renamed_n, mut missing_n) = (0, 0);
    for x in r {
        let missing = missing_lots(&x.marker);
        let renamed = renamed_columns(&x.marker);
        for lot in lots() {
            let on_disk = x.files.iter().any(|f| f.starts_with(&format!("mi_{lot}_")));
            assert_eq!(on_disk, !missing.contains(&lot), "{} {lot}", x.date);
            let Some(header) = x.headers.get(&lot) else {
                continue;
            };
            match renamed.iter().find(|(l, _, _)| *l == lot) {
                Some((_, column, written)) => {
                    // The column is under another header, which no dictionary column matches
                    // even ignoring case and spaces: ingest finds the column missing.
                    assert!(!header.contains(column), "{} {lot}", x.date);
                    assert!(header.contains(written), "{} {lot}", x.date);
                    assert!(
                        !expected
                            .iter()
                            .any(|e| e.eq_ignore_ascii_case(written.trim())),
                        "{written}"
                    );
                    let mut back = header.clone();
                    let at = back.iter().position(|h| h == written).unwrap();
                    back[at] = column.clone();
                    assert_eq!(back, expected);
                }
                None => assert_eq!(header, &expected, "{} {lot}", x.date),
            }
        }
        // The marker's list of files is what is there.
        let listed: BTreeSet<String> = x.marker["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .chain(["SYNTHETIC.toml".to_string()])
            .collect();
        assert_eq!(listed, x.files.iter().cloned().collect(), "{}", x.date);
        assert!(missing.len() + renamed.len() <= 1, "{}", x.date);
        renamed_n += renamed.len();
        missing_n += missing.len();
    }
    // As `[series]` of twin.toml asks, never in the final refresh.
    assert_eq!((renamed_n, missing_n), (2, 2));
    let last = r.last().unwrap();
    assert!(planted(&last.marker).is_none());
    assert_eq!(last.headers.len(), lots().len());
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The last refresh is the final twin: the same bytes as `generate` writes (`data/twin`).
#[test]
fn the_final_refresh_is_the_twin() {
    let out = tempfile::tempdir().unwrap();
    generate(
        &common::study(),
        &common::twin(),
        &SynthOptions {
            seed: DEFAULT_SEED,
            out: out.path().to_path_buf(),
            interim_out: None,
        },
    )
    .unwrap();
    let twin = files(out.path());
    let last = files(&series().join("20220131"));
    assert_eq!(twin.len(), 11);
    assert_eq!(
        twin.keys().collect::<Vec<_>>(),
        last.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &twin {
        assert!(bytes == &last[name], "{name} differs from the twin's");
    }
}

#[test]
fn the_same_seed_writes_the_same_series() {
    let again = tempfile::tempdir().unwrap();
    generate_series(
        &common::study(),
        &common::twin(),
        &SeriesOptions {
            seed: DEFAULT_SEED,
            out: again.path().to_path_buf(),
        },
    )
    .unwrap();
    let folders = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(folders(series()), folders(again.path()));
    for folder in folders(series()) {
        let (a, b) = (
            files(&series().join(&folder)),
            files(&again.path().join(&folder)),
        );
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (name, bytes) in &a {
            assert!(
                bytes == &b[name],
                "{folder}/{name} differs between two runs"
            );
        }
    }
}

/// A renamed header ingest would still read as the column (it ignores case and the spaces
/// around a header) plants nothing: the calibration is refused before anything is written.
#[test]
fn a_renamed_header_ingest_would_accept_is_a_config_error() {
    let text = std::fs::read_to_string(common::pipeline().join("twin.toml")).unwrap();
    let broken = text.replace(
        r#"registration_date = "Registration Date""#,
        r#"registration_date = " Registration_Date ""#,
    );
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twin.toml");
    std::fs::write(&path, broken).unwrap();
    let twin = evalpipe_synth::load_twin_config(&path).unwrap();
    let out = dir.path().join("series");
    let err = generate_series(
        &common::study(),
        &twin,
        &SeriesOptions {
            seed: 1,
            out: out.clone(),
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, evalpipe_synth::Error::Config { .. }), "{msg}");
    assert!(msg.contains("Registration_Date"), "{msg}");
    assert!(!out.exists());
}
