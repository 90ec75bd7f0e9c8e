//! `report/report.pdf`: the HTML page printed by headless Chromium.
//!
//! The page's print stylesheet does the layout (A4, chapters on new pages, no table or figure
//! split, the running footer with the page number and the synthetic-data notice), so the PDF
//! is what a reader gets from the browser's own print-to-PDF. Chromium is Debian's `chromium`
//! package, looked up on `PATH`; without it there is no PDF and [`write_pdf`] says why
//! ([`Pdf::Unavailable`]) instead of failing: the Markdown and HTML are the report, the PDF a
//! convenience.
//!
//! **Determinism.** Chromium stamps the document with the time it was printed
//! (`/CreationDate`, `/ModDate`); those two are set to a fixed date of the same length, which
//! leaves every byte offset in the file valid. Everything else Chromium writes depends only on
//! the page — given the same Chromium build and the same fonts. So two runs on one machine
//! print identical PDFs, but another Chromium version or font set prints a different one: the
//! PDF is outside the promise that the same inputs give byte-identical outputs.
//!
//! Chromium runs with a fresh profile folder, no network services (background networking,
//! component updates, sync and QUIC off, which a closed network refuses anyway) and no sandbox:
//! CI runs as root, where Chromium's sandbox cannot start, and the page it opens is our own
//! file, without scripts or external resources.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evalpipe_study::RunLayout;

use crate::{Error, Result};

/// File name of the PDF in the report folder.
pub const PDF_FILE: &str = "report.pdf";

/// The Chromium executables looked for on `PATH`, in order.
pub const CHROMIUM_NAMES: [&str; 2] = ["chromium", "chromium-browser"];

/// How long Chromium may take to print before it is stopped.
const TIMEOUT: Duration = Duration::from_secs(180);

/// What [`write_pdf`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdf {
    /// The PDF was written here.
    Written(PathBuf),
    /// No PDF: why (Chromium is not installed).
    Unavailable(String),
}

/// The switches every headless Chromium of evalpipe runs with (the PDF and the browser test):
/// headless, no sandbox, no GPU, and no network services.
pub fn chromium_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// The first Chromium on `PATH` ([`CHROMIUM_NAMES`]), if any.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in CHROMIUM_NAMES {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `file://` URL of an absolute path, every byte outside the unreserved set percent-encoded.
pub fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// A folder for one Chromium run (its profile and log), removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty folder under the system's temporary folder.
    pub fn new(what: &str) -> std::io::Result<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "evalpipe-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a profile left in the temporary folder is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs Chromium with `args` after the common ones, stdout and stderr to files in `scratch`,
/// stopping it after `timeout`. Returns its stderr; an error if it failed or timed out.
pub fn run_chromium(
    chromium: &Path,
    scratch: &Scratch,
    args: &[String],
    timeout: Duration,
) -> std::result::Result<String, String> {
    let profile = scratch.path().join("profile");
    let out = scratch.path().join("stdout.txt");
    let err = scratch.path().join("stderr.txt");
    let open = |p: &Path| {
        std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
    };
    let mut child = Command::new(chromium)
        .args(chromium_args(&profile))
        .args(args)
        .stdin(Stdio::null())
        .stdout(open(&out)?)
        .stderr(open(&err)?)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s",
                    chromium.display(),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => return Err(format!("waiting for {}: {e}", chromium.display())),
        }
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    if status.success() {
        Ok(stderr)
    } else {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(format!(
            "{} exited with {status}: {}",
            chromium.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ))
    }
}

/// Prints `<run>/report/report.html` to `<run>/report/report.pdf` with the Chromium on `PATH`;
/// [`Pdf::Unavailable`] when there is none. Run it after [`crate::render`].
pub fn write_pdf(layout: &RunLayout) -> Result<Pdf> {
    match find_chromium() {
        Some(chromium) => write_pdf_with(layout, &chromium).map(Pdf::Written),
        None => Ok(Pdf::Unavailable(format!(
            "no PDF: Chromium is not installed (none of {} on PATH; on Debian: apt-get install \
             chromium)",
            CHROMIUM_NAMES.join(", ")
        ))),
    }
}

/// [`write_pdf`] with a given Chromium executable.
pub fn write_pdf_with(layout: &RunLayout, chromium: &Path) -> Result<PathBuf> {
    let dir = layout.report_dir();
    print_html(chromium, &dir.join("report.html"), &dir.join(PDF_FILE)).map_err(
        |(path, message)| match message {
            Printing::Failed(message) => Error::Pdf { path, message },
            Printing::Write(source) => Error::Write { path, source },
        },
    )
}

/// Why [`print_html`] failed.
#[derive(Debug)]
pub enum Printing {
    /// Chromium could not print (or the HTML is missing).
    Failed(String),
    /// The PDF cannot be written.
    Write(std::io::Error),
}

/// Prints the self-contained page `html` to the PDF `pdf` with `chromium`, without header and
/// footer and with fixed dates, so that the same page gives the same bytes with one Chromium
/// build. Any document evalpipe renders as HTML (the report, the dashboard decks, the data
/// dictionary) is printed through here. The error carries the PDF's path.
pub fn print_html(
    chromium: &Path,
    html: &Path,
    pdf: &Path,
) -> std::result::Result<PathBuf, (PathBuf, Printing)> {
    let fail = |message: String| (pdf.to_path_buf(), Printing::Failed(message));
    let html = std::path::absolute(html)
        .map_err(|e| fail(format!("cannot resolve {}: {e}", html.display())))?;
    if !html.is_file() {
        return Err(fail(format!(
            "{} does not exist: render it first",
            html.display()
        )));
    }
    let scratch = Scratch::new("pdf").map_err(|e| fail(format!("a temporary folder: {e}")))?;
    let printed = scratch.path().join("printed.pdf");
    run_chromium(
        chromium,
        &scratch,
        &[
            "--no-pdf-header-footer".into(),
            format!("--print-to-pdf={}", printed.display()),
            file_url(&html),
        ],
        TIMEOUT,
    )
    .map_err(fail)?;
    let mut bytes =
        std::fs::read(&printed).map_err(|e| fail(format!("Chromium wrote no PDF ({e})")))?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(fail("Chromium's output is not a PDF".into()));
    }
    fix_dates(&mut bytes);
    std::fs::write(pdf, &bytes).map_err(|source| (pdf.to_path_buf(), Printing::Write(source)))?;
    Ok(pdf.to_path_buf())
}

/// The date every PDF is stamped with instead of the time it was printed.
const FIXED_DATE: &[u8] = b"20000101000000";

/// Sets the digits of `/CreationDate (D:…)` and `/ModDate (D:…)` to 1 January 2000, in place:
/// the same number of bytes, so the cross-reference table's offsets stay right.
pub fn fix_dates(pdf: &mut [u8]) {
    for key in [&b"/CreationDate (D:"[..], &b"/ModDate (D:"[..]] {
        let mut from = 0;
        while let Some(at) = find(&pdf[from..], key) {
            let start = from + at + key.len();
            let digits = pdf[start..]
                .iter()
                .take(FIXED_DATE.len())
                .take_while(|b| b.is_ascii_digit())
                .count();
            pdf[start..start + digits].copy_from_slice(&FIXED_DATE[..digits]);
            from = start + digits;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_dates_are_fixed_in_place() {
        let mut pdf = b"%PDF-1.4\n<</Producer (Skia/PDF m156)\n/CreationDate (D:20261201095215+00'00')\n/ModDate (D:20261201095215+00'00')>>".to_vec();
        let len = pdf.len();
        fix_dates(&mut pdf);
        let text = String::from_utf8(pdf).unwrap();
        assert_eq!(text.len(), len);
        assert!(text.contains("/CreationDate (D:20000101000000+00'00')"));
        assert!(text.contains("/ModDate (D:20000101000000+00'00')"));
    }

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/a run/report.html")),
            "file:///tmp/a%20run/report.html"
        );
    }
}
