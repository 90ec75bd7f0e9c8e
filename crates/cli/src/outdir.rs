//! The run folder given by `--out`: checked before any work, locked while a run writes it, and
//! replaced only when it is an earlier run of evalpipe's.
//!
//! A run is built in `.<out>.partial` beside the target and swapped in at the end, through
//! `.<out>.old`; `.<out>.lock` holds the lock. Evalpipe deletes or moves a folder only when it
//! made it: a folder holding [`RUN_MARKER`] with its identity line (or, from before the marker,
//! a manifest that parses as evalpipe's), and nothing but the files that manifest lists. A user
//! folder, a data or configuration folder, or a run folder someone added files to, is refused
//! with a message, before anything is read or written.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use evalpipe_study::{RUN_MARKER, RUN_MARKER_TEXT};

/// `.<name>.<suffix>` beside `path`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    path.with_file_name(format!(".{name}.{suffix}"))
}

/// `path` made absolute with every `.`, `..` and symbolic link of its existing part resolved,
/// so that two spellings of one folder compare equal.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.as_os_str().is_empty() {
        bail!("an empty path is not a folder");
    }
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    // The longest existing ancestor is canonicalised; the rest must be plain names.
    let mut existing = absolute.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if existing.exists() || existing.symlink_metadata().is_ok() {
            break;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            (Some(_), None) => bail!(
                "{} goes through `..` of a folder that does not exist; give a plain folder path",
                path.display()
            ),
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .with_context(|| format!("resolving {}", existing.display()))?;
    for name in rest.into_iter().rev() {
        let part = Path::new(name);
        if part
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            bail!("{} is not a plain folder path", path.display());
        }
        resolved.push(part);
    }
    Ok(resolved)
}

/// Refuses an `--out` that would overwrite, contain or sit inside what the run reads.
pub fn check_not_an_input(out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if out.parent().is_none() || out.file_name().is_none() {
        bail!(
            "--out {} is not a folder evalpipe can replace: give a folder of its own, such as runs/NAME",
            out.display()
        );
    }
    for (what, input) in inputs {
        let Ok(input) = resolve(input) else { continue };
        if input == out {
            bail!(
                "--out {} is the {what}: a run never writes over what it reads; choose another folder",
                out.display()
            );
        }
        if input.starts_with(out) {
            bail!(
                "--out {} holds the {what} ({}): replacing it would delete it; choose another folder",
                out.display(),
                input.display()
            );
        }
        if out.starts_with(&input) && *what != "project" {
            bail!(
                "--out {} is inside the {what} ({}): runs are not written among the inputs; choose another folder",
                out.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// What is in a folder evalpipe might replace.
#[derive(Debug, PartialEq, Eq)]
pub enum Folder {
    /// Nothing there.
    Absent,
    /// An empty folder (a user may make one for a run).
    Empty,
    /// A run folder of evalpipe's, holding nothing it did not write.
    Run,
}

/// What `path` is, or why evalpipe may not replace it.
pub fn inspect(path: &Path, role: &str) -> Result<Folder> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Folder::Absent),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if meta.file_type().is_symlink() {
        bail!(
            "{role} {} is a symbolic link; evalpipe replaces only folders it made: give the folder itself",
            path.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "{role} {} exists and is not a folder; choose another --out",
            path.display()
        );
    }
    let files = files_under(path)?;
    if files.is_empty() {
        return Ok(Folder::Empty);
    }
    let marked = std::fs::read_to_string(path.join(RUN_MARKER))
        .is_ok_and(|t| t.starts_with(RUN_MARKER_TEXT.trim_end()));
    let manifest: Option<serde_json::Value> = std::fs::read_to_string(path.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|m: &serde_json::Value| {
            m["evalpipe_version"].is_string() && m["outputs"].is_array()
        });
    if !marked && manifest.is_none() {
        bail!(
            "{role} {} exists and is not an evalpipe run folder (no {RUN_MARKER}, no evalpipe manifest); \
             evalpipe never deletes what it did not make: choose another --out, or move the folder away",
            path.display()
        );
    }
    let listed: std::collections::BTreeSet<String> = manifest
        .as_ref()
        .and_then(|m| m["outputs"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e["path"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let foreign: Vec<String> = files
        .iter()
        .filter(|f| f.as_str() != RUN_MARKER && f.as_str() != "manifest.json")
        .filter(|f| !listed.contains(*f))
        .cloned()
        .collect();
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(5).map(String::as_str).collect();
        bail!(
            "{role} {} holds {} file(s) evalpipe did not write ({}{}); evalpipe never deletes what it \
             did not make: move them out of the run folder, or choose another --out",
            path.display(),
            foreign.len(),
            shown.join(", "),
            if foreign.len() > 5 { ", …" } else { "" }
        );
    }
    Ok(Folder::Run)
}

/// Every file (and symbolic link, and anything else that is not a folder) under `dir`, as
/// `/`-separated paths relative to it; symbolic links are not followed.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Marks a folder as a run folder of evalpipe's.
pub fn mark(dir: &Path) -> Result<()> {
    let path = dir.join(RUN_MARKER);
    std::fs::write(&path, RUN_MARKER_TEXT).with_context(|| format!("writing {}", path.display()))
}

/// First line of a lock file, then the holder's process id.
const LOCK_TEXT: &str = "evalpipe run lock";

/// The lock on a run folder, held while a run builds and publishes it; released (and its file
/// removed) when dropped. The kernel releases it when the process dies, however it dies, so a
/// lock left by a killed run is stale by construction and the next run takes it over.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Locks `out` (through `.<out>.lock` beside it), or says who holds it.
    pub fn take(out: &Path) -> Result<(Lock, Option<String>)> {
        let path = sibling(out, "lock");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        loop {
            let existed = path.exists();
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("opening the lock {}", path.display()))?;
            let mut held_by = String::new();
            let _ = file.read_to_string(&mut held_by);
            if existed && !held_by.is_empty() && !held_by.starts_with(LOCK_TEXT) {
                bail!(
                    "{} exists and is not an evalpipe lock; evalpipe never overwrites what it did not make: remove it, or choose another --out",
                    path.display()
                );
            }
            let holder = held_by
                .lines()
                .nth(1)
                .and_then(|l| l.strip_prefix("pid "))
                .map(str::to_string);
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => bail!(
                    "another evalpipe run{} is writing {}; wait for it to finish, or choose another --out",
                    holder
                        .map(|p| format!(" (process {p})"))
                        .unwrap_or_default(),
                    out.display()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
            // The holder before us may have removed the file between our open and our lock:
            // then we hold a lock on a file nobody else can see, and must start again.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0)?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(0))?;
            writeln!(file, "{LOCK_TEXT}\npid {}", std::process::id())
                .with_context(|| format!("writing the lock {}", path.display()))?;
            let stale = holder.filter(|_| existed);
            return Ok((Lock { file, path }, stale));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held, so no other run can be holding a lock on it.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_folder_and_a_run_with_added_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x");
        assert_eq!(inspect(&x, "--out").unwrap(), Folder::Absent);
        std::fs::create_dir(&x).unwrap();
        assert_eq!(inspect(&x, "--out").unwrap(), Folder::Empty);
        // A file called manifest.json does not make a run folder.
        std::fs::write(x.join("manifest.json"), "{}").unwrap();
        std::fs::write(x.join("s.txt"), "precious").unwrap();
        let e = inspect(&x, "--out").unwrap_err().to_string();
        assert!(e.contains("is not an evalpipe run folder"), "{e}");
        // A real run's manifest, but a file it does not list.
        std::fs::write(
            x.join("manifest.json"),
            r#"{"evalpipe_version":"0.1.0","outputs":[{"path":"tables/a.csv"}]}"#,
        )
        .unwrap();
        std::fs::create_dir(x.join("tables")).unwrap();
        std::fs::write(x.join("tables/a.csv"), "a").unwrap();
        let e = inspect(&x, "--out").unwrap_err().to_string();
        assert!(
            e.contains("1 file(s) evalpipe did not write (s.txt)"),
            "{e}"
        );
        std::fs::remove_file(x.join("s.txt")).unwrap();
        assert_eq!(inspect(&x, "--out").unwrap(), Folder::Run);
        mark(&x).unwrap();
        assert_eq!(inspect(&x, "--out").unwrap(), Folder::Run);
    }

    #[test]
    fn out_may_not_be_hold_or_sit_in_an_input_however_it_is_spelt() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let inputs = [("data folder", data.as_path())];
        for (out, refused) in [
            (data.clone(), "is the data folder"),
            (dir.path().to_path_buf(), "holds the data folder"),
            (data.join("run"), "is inside the data folder"),
            (data.join("../data/x"), "is inside the data folder"),
        ] {
            let out = resolve(&out).unwrap();
            let e = check_not_an_input(&out, &inputs).unwrap_err().to_string();
            assert!(e.contains(refused), "{out:?}: {e}");
        }
        assert!(resolve(&data.join("nothing/../x")).is_err());
        let fine = resolve(&dir.path().join("runs/a")).unwrap();
        check_not_an_input(&fine, &inputs).unwrap();
        assert!(check_not_an_input(Path::new("/"), &inputs).is_err());
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_a_dead_holder_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let (first, stale) = Lock::take(&out).unwrap();
        assert_eq!(stale, None);
        let e = Lock::take(&out).unwrap_err().to_string();
        assert!(
            e.contains(&format!("(process {})", std::process::id())),
            "{e}"
        );
        drop(first);
        assert!(!sibling(&out, "lock").exists());
        // A lock file left by a killed run: nobody holds it, so it is taken over.
        std::fs::write(sibling(&out, "lock"), format!("{LOCK_TEXT}\npid 999999\n")).unwrap();
        let (_again, stale) = Lock::take(&out).unwrap();
        assert_eq!(stale.as_deref(), Some("999999"));
    }
}
