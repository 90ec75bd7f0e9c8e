//! End-to-end, as an attacker or a careless user would try it: the `evalpipe` binary on a
//! refresh with misaligned rows, a stray quote, a formula for a claim reference and a data
//! folder of links and pipes; `--out` pointed at a user's folder, at the data, at a run folder
//! someone added to; two runs at once on one `--out`; the public key on real data.
//!
//! Each test reproduces a defect found on `932140f`: identifiers in the validation reports and
//! the quarantine, rows lost without a word, a user's folder deleted, a half run published.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::{files_under, readable_text, repo};

fn evalpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(args)
        .current_dir(repo())
        .env_remove("EVALPIPE_PSEUDONYM_KEY")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A CSV's records, as the csv crate reads them.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Every identifier-shaped token of a text (letters, digits, `-` and `/`), alone and in adjacent
/// pairs (a postcode has a space in the middle).
fn tokens(text: &str) -> BTreeSet<String> {
    let parts: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '/'))
        .collect();
    let mut out: BTreeSet<String> = parts
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| w.to_string())
        .collect();
    out.extend(
        parts
            .windows(2)
            .filter(|p| !p[0].is_empty() && !p[1].is_empty())
            .map(|p| format!("{} {}", p[0], p[1])),
    );
    out
}

/// The words of a text, lower-cased.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Damage to an extract's lines, given its header; returns the data lines it exposed.
type Edit = dyn Fn(&[String], &mut Vec<String>) -> Vec<usize>;

/// A copy of the twin with the defects of issue 14 planted; returns the identifiers of every
/// participant whose row it made misaligned or swallowed.
fn hostile_refresh(dir: &Path) -> BTreeSet<String> {
    let twin = repo().join("data/twin");
    std::fs::create_dir_all(dir).unwrap();
    for f in files_under(&twin) {
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    let mut exposed = BTreeSet::new();
    let identifier_columns = [
        "provider_ref",
        "first_name",
        "surname",
        "date_of_birth",
        "postcode",
        "ni_number",
    ];
    let mut plant = |file: &str, edit: &Edit| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let records = csv_records(&text);
        let header = records[0].clone();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for line in edit(&header, &mut lines) {
            for (i, h) in header.iter().enumerate() {
                if identifier_columns.contains(&h.as_str()) && !records[line][i].is_empty() {
                    exposed.insert(records[line][i].clone());
                }
            }
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    };
    // A stray quote in front of `gender` on line 1001 of L4: it swallows the 50 lines after it.
    plant("mi_L4_20220131.csv", &|header, lines| {
        let at = header.iter().position(|h| h == "gender").unwrap();
        let mut f: Vec<String> = lines[1000].split(',').map(str::to_string).collect();
        f[at] = format!("\"{}", f[at]);
        lines[1000] = f.join(",");
        (1000..1050).collect()
    });
    // An unquoted comma in a surname (`Robinson, Jr`) on line 6 of L5: the NI number lands under
    // lot_code.
    plant("mi_L5_20220131.csv", &|header, lines| {
        let at = header.iter().position(|h| h == "surname").unwrap();
        let mut f: Vec<String> = lines[5].split(',').map(str::to_string).collect();
        f[at] = format!("{}, Jr", f[at]);
        lines[5] = f.join(",");
        vec![5]
    });
    // A claim reference a spreadsheet would run, on an otherwise valid claim.
    let claims = dir.join("claims_20220131.csv");
    let text = std::fs::read_to_string(&claims).unwrap().replacen(
        "\nCC-0001001,",
        "\n\"=HYPERLINK(\"\"http://x.invalid\"\",\"\"open\"\")\",",
        1,
    );
    std::fs::write(&claims, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // L9's extract as a link to a copy elsewhere, two folder loops, a pipe.
        let elsewhere = dir.with_file_name("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::rename(
            dir.join("mi_L9_20220131.csv"),
            elsewhere.join("mi_L9_20220131.csv"),
        )
        .unwrap();
        symlink(
            elsewhere.join("mi_L9_20220131.csv"),
            dir.join("mi_L9_20220131.csv"),
        )
        .unwrap();
        std::fs::create_dir(dir.join("a")).unwrap();
        symlink(dir, dir.join("a/up")).unwrap();
        symlink(dir.join("a"), dir.join("a/again")).unwrap();
        let made = Command::new("mkfifo")
            .arg(dir.join("notes.fifo"))
            .status()
            .unwrap();
        assert!(made.success());
    }
    exposed
}

#[test]
fn a_hostile_refresh_runs_to_the_end_says_what_it_lost_and_leaks_no_identifier() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("refresh");
    let exposed = hostile_refresh(&data);
    assert!(exposed.len() >= 51 * 5, "{}", exposed.len());
    let out = tmp.path().join("run");
    let result = evalpipe(&[
        "run",
        "--quiet",
        "--no-pdf",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // Written, but the swallowed lines make the exit status 3, and --quiet does not hide why.
    assert_eq!(result.status.code(), Some(3), "{}", stderr(&result));
    let err = stderr(&result);
    assert!(
        err.contains(
            "warning: mi_L4_20220131.csv (records_short_of_lines): 1 row(s) span 51 physical lines"
        ),
        "{err}"
    );
    assert!(out.join("report/report.html").is_file());
    let accounting = std::fs::read_to_string(out.join("ingest/validation/accounting.csv")).unwrap();
    assert!(
        accounting.contains(
            "\nmi_L4_20220131.csv,mi,L4,used,1051,1000,999,1,0,0,true,records_short_of_lines\n"
        ),
        "{accounting}"
    );
    let l9 = std::fs::read_to_string(out.join("ingest/validation/L9.md")).unwrap();
    assert!(l9.contains("is a symbolic link"), "{l9}");

    // No identifier of a misaligned or swallowed row in any file a person or a program could
    // read. References, dates of birth, postcodes and NI numbers are looked for anywhere; a
    // name as a word of its own, unless the study's own vocabulary has it (`White` is a
    // surname and an ethnic group), where a leak could not be told from the word.
    let vocabulary: BTreeSet<String> = ["pipeline", "report-templates", "data/qualitative"]
        .iter()
        .flat_map(|d| files_under(&repo().join(d)))
        .flat_map(|f| words(&readable_text(&f)))
        .collect();
    assert!(
        exposed
            .iter()
            .all(|id| id.chars().all(char::is_alphabetic) || tokens(id).contains(id))
    );
    let (names, others): (Vec<&String>, Vec<&String>) = exposed
        .iter()
        .partition(|id| id.chars().all(char::is_alphabetic));
    let names: BTreeSet<String> = names
        .into_iter()
        .filter(|n| !vocabulary.contains(&n.to_lowercase()))
        .cloned()
        .collect();
    assert!(names.len() > 50, "{names:?}");
    let files = files_under(&out);
    assert!(files.len() > 100);
    let names: BTreeSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
    for f in &files {
        let text = readable_text(f);
        let found = tokens(&text);
        for id in &others {
            assert!(
                !found.contains(id.as_str()),
                "{} contains the identifier {id} of a misaligned row",
                f.display()
            );
        }
        for word in words(&text) {
            assert!(
                !names.contains(&word),
                "{} contains the name {word} of a misaligned row",
                f.display()
            );
        }
    }

    // No cell of any CSV output a spreadsheet would run as a formula.
    let mut csvs = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "csv"))
    {
        csvs += 1;
        for record in csv_records(&std::fs::read_to_string(f).unwrap()) {
            for cell in record {
                let number = cell.parse::<f64>().is_ok();
                assert!(
                    number || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{} has the cell {cell:?}",
                    f.display()
                );
            }
        }
    }
    assert!(csvs > 50);
    // The claim is kept (a staging table, Parquet only, which no spreadsheet opens).
    let claims = readable_text(&out.join("tables/validated_claims.parquet"));
    assert!(claims.contains("=HYPERLINK("), "the claim is kept");
}

#[test]
fn out_is_refused_before_any_work_when_evalpipe_did_not_make_it() {
    let tmp = tempfile::tempdir().unwrap();
    let refused = |out: &Path, why: &str| {
        let started = std::time::Instant::now();
        let r = evalpipe(&["run", "--quiet", "--no-pdf", "--out", out.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(2), "{out:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(why), "{out:?}: {}", stderr(&r));
        // Refused up front: no stage ran.
        assert!(started.elapsed().as_secs() < 10, "{out:?}");
    };

    // The issue's own reproduction: a folder with a manifest.json and a precious file.
    let x = tmp.path().join("X");
    std::fs::create_dir(&x).unwrap();
    std::fs::write(x.join("manifest.json"), "{}").unwrap();
    std::fs::write(x.join("s.txt"), "precious").unwrap();
    refused(&x, "is not an evalpipe run folder");
    assert_eq!(
        std::fs::read_to_string(x.join("s.txt")).unwrap(),
        "precious"
    );
    assert_eq!(names_in(tmp.path()), ["X"], "no hidden copy, no lock left");

    // A `.Y.partial` and a `.Z.old` that are a user's, beside an --out that does not exist.
    for (name, aside) in [("Y", ".Y.partial"), ("Z", ".Z.old")] {
        let folder = tmp.path().join(aside);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("mine.txt"), "mine").unwrap();
        refused(&tmp.path().join(name), "evalpipe");
        assert_eq!(
            std::fs::read_to_string(folder.join("mine.txt")).unwrap(),
            "mine"
        );
        assert!(!tmp.path().join(name).exists(), "{aside} was not moved");
    }

    // The data folder, a folder holding it, a folder inside it, a file.
    let data = repo().join("data/twin");
    refused(&data, "is the data folder");
    refused(&repo().join("data"), "holds the data folder");
    refused(&data.join("run"), "is inside the data folder");
    assert!(!repo().join("data/.twin.partial").exists());
    assert!(!data.join("run").exists());
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    refused(&file, "is not a folder");
}

#[test]
fn a_run_folder_someone_added_a_file_to_is_never_replaced_and_two_runs_never_share_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("twin");
    let out_arg = out.to_str().unwrap();
    // Two runs at once on one --out: one runs, the other is refused at once, naming it.
    let first = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(["run", "--quiet", "--no-pdf", "--out", out_arg])
        .current_dir(repo())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock = tmp.path().join(".twin.lock");
    let waited = std::time::Instant::now();
    while !lock.exists() && waited.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = evalpipe(&["run", "--quiet", "--no-pdf", "--force", "--out", out_arg]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!(
            "another evalpipe run (process {}) is writing",
            first.id()
        )),
        "{}",
        stderr(&second)
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        names_in(tmp.path()),
        ["twin"],
        "no lock, partial or old left"
    );
    let status = evalpipe(&["status", "--no-pdf", "--out", out_arg]);
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(said.matches("up to date").count(), 5, "{said}");

    // A note added to the finished run: the next run refuses to replace the folder, and the
    // note and the run are left as they were.
    std::fs::write(out.join("notes.txt"), "my notes").unwrap();
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let again = evalpipe(&["run", "--quiet", "--no-pdf", "--force", "--out", out_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("holds 1 file(s) evalpipe did not write (notes.txt)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "my notes"
    );
}

#[test]
fn the_public_key_is_refused_on_real_data_however_it_is_passed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("real");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        repo().join("data/twin/mi_L5_20220131.csv"),
        data.join("mi_L5_20220131.csv"),
    )
    .unwrap();
    let key = evalpipe_ingest::SYNTHETIC_KEY;
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "run".to_string(),
            "--no-pdf".into(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--out".into(),
            tmp.path().join("run").to_str().unwrap().into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let by_variable = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(args(&[]))
        .env("EVALPIPE_PSEUDONYM_KEY", key)
        .output()
        .unwrap();
    let by_file = Command::new(env!("CARGO_BIN_EXE_evalpipe"))
        .args(args(&["--key-file", key_file.to_str().unwrap()]))
        .env_remove("EVALPIPE_PSEUDONYM_KEY")
        .output()
        .unwrap();
    for r in [by_variable, by_file] {
        assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
        assert!(
            stderr(&r).contains(
                "the public synthetic pseudonymisation key cannot be used on real extracts"
            ),
            "{}",
            stderr(&r)
        );
    }
    assert!(!tmp.path().join("run").exists());
}

#[test]
fn a_run_that_fails_after_ingest_says_where_its_validation_reports_are() {
    let tmp = tempfile::tempdir().unwrap();
    // The templates with one broken: the report stage fails after ingest has run.
    let templates = tmp.path().join("templates");
    for f in files_under(&repo().join("report-templates")) {
        let to = templates.join(f.strip_prefix(repo().join("report-templates")).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let conclusions = templates.join("sections/conclusions.md.j2");
    let text = std::fs::read_to_string(&conclusions).unwrap();
    std::fs::write(
        &conclusions,
        format!("{text}\n{{{{ no_such_function() }}}}\n"),
    )
    .unwrap();
    let out = tmp.path().join("run");
    let r = evalpipe(&[
        "run",
        "--quiet",
        "--no-pdf",
        "--templates",
        templates.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    let partial = tmp.path().join(".run.partial");
    assert!(
        stderr(&r).contains(&format!("nothing was published to {}", out.display()))
            && stderr(&r).contains(&partial.display().to_string()),
        "{}",
        stderr(&r)
    );
    assert!(!out.exists());
    assert!(partial.join("ingest/validation/summary.md").is_file());
}
