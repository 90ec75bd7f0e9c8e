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

use evalpipe_study::{MANIFEST_FILE, Manifest, RUN_MARKER, RUN_MARKER_TEXT};

use crate::error::{Error, Result, io};

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
        return Err(Error::Refused("an empty path is not a folder".into()));
    }
    let absolute =
        std::path::absolute(path).map_err(|e| io(format!("resolving {}", path.display()), e))?;
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
            (Some(_), None) => {
                return Err(Error::Refused(format!(
                    "{} goes through `..` of a folder that does not exist; give a plain folder path",
                    path.display()
                )));
            }
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .map_err(|e| io(format!("resolving {}", existing.display()), e))?;
    for name in rest.into_iter().rev() {
        let part = Path::new(name);
        if part
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(Error::Refused(format!(
                "{} is not a plain folder path",
                path.display()
            )));
        }
        resolved.push(part);
    }
    Ok(resolved)
}

/// Refuses an `--out` that would overwrite, contain or sit inside what the run reads.
pub fn check_not_an_input(out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if out.parent().is_none() || out.file_name().is_none() {
        return Err(Error::Refused(format!(
            "--out {} is not a folder evalpipe can replace: give a folder of its own, such as runs/NAME",
            out.display()
        )));
    }
    for (what, input) in inputs {
        let Ok(input) = resolve(input) else { continue };
        if input == out {
            return Err(Error::Refused(format!(
                "--out {} is the {what}: a run never writes over what it reads; choose another folder",
                out.display()
            )));
        }
        if input.starts_with(out) {
            return Err(Error::Refused(format!(
                "--out {} holds the {what} ({}): replacing it would delete it; choose another folder",
                out.display(),
                input.display()
            )));
        }
        if out.starts_with(&input) && *what != "project" {
            return Err(Error::Refused(format!(
                "--out {} is inside the {what} ({}): runs are not written among the inputs; choose another folder",
                out.display(),
                input.display()
            )));
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
        Err(e) => return Err(io(format!("reading {}", path.display()), e)),
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Refused(format!(
            "{role} {} is a symbolic link; evalpipe replaces only folders it made: give the folder itself",
            path.display()
        )));
    }
    if !meta.is_dir() {
        return Err(Error::Refused(format!(
            "{role} {} exists and is not a folder; choose another --out",
            path.display()
        )));
    }
    let files = files_under(path)?;
    if files.is_empty() {
        return Ok(Folder::Empty);
    }
    let marked = std::fs::read_to_string(path.join(RUN_MARKER))
        .is_ok_and(|t| t.starts_with(RUN_MARKER_TEXT.trim_end()));
    let manifest = Manifest::read(&evalpipe_study::RunLayout::new(path).manifest()).ok();
    if !marked && manifest.is_none() {
        return Err(Error::Refused(format!(
            "{role} {} exists and is not an evalpipe run folder (no {RUN_MARKER}, no evalpipe manifest); \
             evalpipe never deletes what it did not make: choose another --out, or move the folder away",
            path.display()
        )));
    }
    let listed: std::collections::BTreeSet<&str> = manifest
        .iter()
        .flat_map(|m| &m.outputs)
        .map(|e| e.path.as_str())
        .collect();
    let foreign: Vec<String> = files
        .iter()
        .filter(|f| f.as_str() != RUN_MARKER && f.as_str() != MANIFEST_FILE)
        .filter(|f| !listed.contains(f.as_str()))
        .cloned()
        .collect();
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(5).map(String::as_str).collect();
        return Err(Error::Refused(format!(
            "{role} {} holds {} file(s) evalpipe did not write ({}{}); evalpipe never deletes what it \
             did not make: move them out of the run folder, or choose another --out",
            path.display(),
            foreign.len(),
            shown.join(", "),
            if foreign.len() > 5 { ", …" } else { "" }
        )));
    }
    Ok(Folder::Run)
}

/// Every file (and symbolic link, and anything else that is not a folder) under `dir`, as
/// `/`-separated paths relative to it; symbolic links are not followed.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(format!("listing {}", d.display()), e))? {
            let entry = entry.map_err(|e| io(format!("listing {}", d.display()), e))?;
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
    std::fs::write(&path, RUN_MARKER_TEXT).map_err(|e| io(format!("writing {}", path.display()), e))
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
                .map_err(|e| io(format!("creating {}", parent.display()), e))?;
        }
        loop {
            let existed = path.exists();
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io(format!("opening the lock {}", path.display()), e))?;
            let mut held_by = String::new();
            let _ = file.read_to_string(&mut held_by);
            if existed && !held_by.is_empty() && !held_by.starts_with(LOCK_TEXT) {
                return Err(Error::Refused(format!(
                    "{} exists and is not an evalpipe lock; evalpipe never overwrites what it did not make: remove it, or choose another --out",
                    path.display()
                )));
            }
            let holder = held_by
                .lines()
                .nth(1)
                .and_then(|l| l.strip_prefix("pid "))
                .map(str::to_string);
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Refused(format!(
                        "another evalpipe run{} is writing {}; wait for it to finish, or choose another --out",
                        holder
                            .map(|p| format!(" (process {p})"))
                            .unwrap_or_default(),
                        out.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io(format!("locking {}", path.display()), e));
                }
            }
            // The holder before us may have removed the file between our open and our lock:
            // then we hold a lock on a file nobody else can see, and must start again.
            if !same_file(&file, &path) {
                continue;
            }
            let writing = || format!("writing the lock {}", path.display());
            file.set_len(0).map_err(|e| io(writing(), e))?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(0))
                .map_err(|e| io(writing(), e))?;
            writeln!(file, "{LOCK_TEXT}\npid {}", std::process::id())
                .map_err(|e| io(format!("writing the lock {}", path.display()), e))?;
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

/// Whether `.<out>.partial` is an unfinished run of evalpipe's, to be cleared; an error when
/// something else is there.
pub fn partial_is_ours(staging: &Path) -> Result<bool> {
    match staging.symlink_metadata() {
        Err(_) => Ok(false),
        Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {
            let marked = std::fs::read_to_string(staging.join(RUN_MARKER))
                .is_ok_and(|t| t.starts_with(RUN_MARKER_TEXT.trim_end()));
            let empty = std::fs::read_dir(staging)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if marked || empty {
                Ok(true)
            } else {
                Err(Error::Refused(format!(
                    "{} exists and was not made by evalpipe; evalpipe builds runs there and never \
                     deletes what it did not make: move it away, or choose another --out",
                    staging.display()
                )))
            }
        }
        Ok(_) => Err(Error::Refused(format!(
            "{} exists and is not a folder of evalpipe's; move it away, or choose another --out",
            staging.display()
        ))),
    }
}

/// Copies every file under `from` to the same place under `to`, but for the folders in `skip`
/// (another stage's, inside this one's).
pub fn copy_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> Result<()> {
    let listing = || format!("listing {}", from.display());
    for entry in std::fs::read_dir(from).map_err(|e| io(listing(), e))? {
        let path = entry.map_err(|e| io(listing(), e))?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            if !skip.contains(&path) {
                copy_tree(&path, &target, skip)?;
            }
        } else {
            std::fs::create_dir_all(to).map_err(|e| io(format!("creating {}", to.display()), e))?;
            std::fs::copy(&path, &target).map_err(|e| {
                io(
                    format!("copying {} to {}", path.display(), target.display()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// Undoes what a run killed while publishing left behind. Publishing is two renames (the
/// previous run aside to `.<out>.old`, the new one in): killed between them, `out` is missing
/// and the previous run is whole at `.old`, so it goes back; killed after both, `.old` is only
/// the previous run waiting to be deleted.
pub fn recover(out: &Path) -> Result<()> {
    let old = sibling(out, "old");
    if inspect(&old, "the run set aside")? != Folder::Run {
        return Ok(());
    }
    if out.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(format!("removing {}", old.display()), e))
    } else {
        std::fs::rename(&old, out).map_err(|e| {
            io(
                format!("restoring the previous run from {}", old.display()),
                e,
            )
        })
    }
}

/// Replaces `out` with the finished `staging` folder. `out` is only moved aside and removed if
/// it is an earlier run of evalpipe's holding nothing else (checked again here: the run took
/// a while), an empty folder is replaced, anything else is refused.
pub fn publish(staging: &Path, out: &Path) -> Result<()> {
    let existing = inspect(out, "--out")?;
    let publishing = |e| io(format!("publishing the run to {}", out.display()), e);
    if existing == Folder::Empty {
        std::fs::remove_dir(out).map_err(|e| io(format!("replacing {}", out.display()), e))?;
    }
    if existing == Folder::Run {
        let old = sibling(out, "old");
        if inspect(&old, "the run set aside")? == Folder::Run {
            std::fs::remove_dir_all(&old)
                .map_err(|e| io(format!("removing {}", old.display()), e))?;
        }
        std::fs::rename(out, &old).map_err(|e| {
            io(
                format!("moving the previous run {} aside", out.display()),
                e,
            )
        })?;
        std::fs::rename(staging, out).map_err(publishing)?;
        std::fs::remove_dir_all(&old)
            .map_err(|e| io(format!("removing the previous run {}", old.display()), e))?;
    } else {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::rename(staging, out).map_err(publishing)?;
    }
    Ok(())
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
