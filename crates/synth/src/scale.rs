//! Scaled extracts: the calibrated twin's people copied to any number of participants, for
//! measuring the pipeline at the size of a national programme (`evalpipe synth --participants`).
//!
//! Participant `i` of a scaled extract is a copy of twin participant `order[i mod n]` (`n` the
//! twin's MI participants, `order` a seeded permutation of them) with new references: copy `k`
//! of a person carries the twin's provider reference number plus `k` × 10^`ref_digits`, and
//! each of their claims the twin's claim number plus `k` × (the twin's claims). Everything else
//! in a row — lot, cohort, dates, characteristics, answers, outcomes, claims — is the twin
//! person's, so the scaled extract has the twin's joint structure exactly: at a whole number of
//! copies every count is that many times the twin's, every rate and every odds ratio the twin's.
//! The claims-only participants (in the claims, not the MI) are copied in the same proportion.
//!
//! Memory is bounded whatever the size: each twin row is rendered once as CSV bytes with gaps for
//! its references, then the files are streamed copy by copy. Every lot is written as CSV, also
//! the lots the twin sends as workbooks: a worksheet holds at most 1,048,576 rows, and a large
//! programme sends its extracts as CSV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;

use evalpipe_study::Study;

use crate::identity::provider_ref_of_copy;
use crate::write::{self, Cell};
use crate::{Drawn, Error, Result, SynthSummary, TwinConfig, draw_twin, stream};

/// What to write and how large.
#[derive(Debug, Clone)]
pub struct ScaledOptions {
    /// Seed of the twin whose people are copied (and of the copies' order).
    pub seed: u64,
    /// Folder to write into (created if missing; files of the same names are overwritten,
    /// nothing else is touched).
    pub out: PathBuf,
    /// MI participants to write (the claims-only participants come on top, in the twin's
    /// proportion).
    pub participants: usize,
}

/// Writes a scaled extract of `opts.participants` MI participants into `opts.out`, streaming:
/// the MI file of every lot (CSV), the claims file and the marker. Deterministic in
/// (`study`, `twin`, `opts`).
pub fn generate_scaled(
    study: &Study,
    twin: &TwinConfig,
    opts: &ScaledOptions,
) -> Result<SynthSummary> {
    let drawn = draw_twin(study, twin, opts.seed)?;
    let Drawn {
        ctx,
        persons,
        n_mi,
        round,
        ..
    } = &drawn;
    let cfg = &twin.file;
    if *n_mi == 0 {
        return Err(Error::Internal {
            message: "the twin has no MI participant to copy".into(),
        });
    }
    let limit = 10u64.pow(cfg.identity.ref_digits as u32);
    if persons.iter().any(|p| u64::from(p.ref_num) >= limit) {
        return Err(ctx.config_err(format!(
            "[identity] a provider reference number exceeds {} digits, so copies would clash",
            cfg.identity.ref_digits
        )));
    }
    std::fs::create_dir_all(&opts.out).map_err(|source| Error::Write {
        path: opts.out.clone(),
        source,
    })?;
    let rows = Rendered::of(study, &drawn)?;
    let mut out = Files::create(study, twin, &opts.out, &ctx.lot_codes)?;
    let (written_claims, written_claims_only) =
        write_copies(&drawn, twin, opts.participants, &rows, &mut out)?;
    let mut files = out.finish()?;

    let marker_path = opts.out.join(evalpipe_study::SYNTHETIC_MARKER);
    let marker = write::Marker {
        synthetic: true,
        statement: cfg.twin.statement.clone(),
        generator: env!("CARGO_PKG_NAME").to_string(),
        generator_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: opts.seed,
        round: *round,
        calibration: write::name_of(&twin.path),
        scaled_from: Some(*n_mi),
        extract: "final".to_string(),
        extract_date: cfg.twin.extract_date.to_string(),
        refresh: None,
        refreshes: None,
        mi_participants: opts.participants,
        mi_rows_planted_with_errors: 0,
        claims_only_participants: written_claims_only,
        claims: written_claims,
        files: files.iter().map(|f| write::name_of(f)).collect(),
        planted: None,
    };
    write::marker(&marker_path, &marker)?;
    files.push(marker_path);
    Ok(SynthSummary {
        files,
        participants: opts.participants,
        claims: written_claims,
        interim: None,
        round: *round,
    })
}

/// Each twin row once, as CSV bytes with gaps where a copy's references go: the MI rows of the
/// MI participants and the claims rows, in the twin's orders.
struct Rendered {
    mi: Vec<Row>,
    claims: Vec<Row>,
}

impl Rendered {
    fn of(study: &Study, drawn: &Drawn) -> Result<Rendered> {
        let Drawn {
            ctx,
            persons,
            n_mi,
            claims,
            ..
        } = drawn;
        let mi_header = study.mi.expected_columns(&study.codes);
        let mi_format = &study.mi.dataset.date_format;
        let mi = persons[..*n_mi]
            .iter()
            .map(|p| {
                let cells = write::mi_row(ctx, p, &mi_header)?;
                Ok(Row::new(&mi_header, &cells, mi_format))
            })
            .collect::<Result<Vec<_>>>()?;
        let claims_header = study.claims.expected_columns(&study.codes);
        let claims_format = &study.claims.dataset.date_format;
        let claims = claims
            .iter()
            .map(|c| {
                let cells = write::claim_row(ctx, persons, c, &claims_header)?;
                Ok(Row::new(&claims_header, &cells, claims_format))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Rendered { mi, claims })
    }
}

/// The files of a scaled extract while they are streamed: every lot's MI file, then the claims
/// file.
struct Files {
    lots: Vec<Out>,
    claims: Out,
    paths: Vec<PathBuf>,
}

impl Files {
    fn create(study: &Study, twin: &TwinConfig, dir: &Path, lots: &[String]) -> Result<Files> {
        let cfg = &twin.file;
        let stamp = cfg.twin.extract_date.format("%Y%m%d").to_string();
        let mi_header = study.mi.expected_columns(&study.codes);
        let mut lot_files = Vec::new();
        let mut paths = Vec::new();
        for lot in lots {
            let path = dir.join(format!(
                "{}_{lot}_{stamp}.csv",
                study.mi.dataset.file_prefix
            ));
            let bom = cfg.twin.csv_bom_lots.contains(lot);
            lot_files.push(Out::create(&path, &mi_header, bom)?);
            paths.push(path);
        }
        let claims_header = study.claims.expected_columns(&study.codes);
        let claims_path = dir.join(format!("{}_{stamp}.csv", study.claims.dataset.file_prefix));
        let claims = Out::create(&claims_path, &claims_header, false)?;
        paths.push(claims_path);
        Ok(Files {
            lots: lot_files,
            claims,
            paths,
        })
    }

    /// Flushes every file; returns their paths in writing order.
    fn finish(self) -> Result<Vec<PathBuf>> {
        for f in self.lots {
            f.finish()?;
        }
        self.claims.finish()?;
        Ok(self.paths)
    }
}

/// Streams copy after copy of the twin's people until `participants` MI participants are
/// written, each copy with its own references; returns the claims rows and the claims-only
/// participants written.
fn write_copies(
    drawn: &Drawn,
    twin: &TwinConfig,
    participants: usize,
    rows: &Rendered,
    out: &mut Files,
) -> Result<(usize, usize)> {
    let Drawn {
        ctx,
        persons,
        n_mi,
        n_claims_only,
        claims,
        seed,
        ..
    } = drawn;
    let cfg = &twin.file;
    // Who each copy takes: MI participants in a seeded order (a last, partial copy is then a
    // random part of the twin, not its first lots), claims-only participants likewise.
    let mut order: Vec<usize> = (0..*n_mi).collect();
    order.shuffle(&mut stream(*seed, "scale:order"));
    let mut claims_only: Vec<usize> = (*n_mi..persons.len()).collect();
    claims_only.shuffle(&mut stream(*seed, "scale:claims_only"));

    let mut written_claims = 0usize;
    let mut written_claims_only = 0usize;
    let copies = participants.div_ceil(*n_mi);
    let mut included = vec![false; persons.len()];
    for k in 0..copies {
        let take = (participants - k * n_mi).min(*n_mi);
        // Claims-only participants in the same proportion as the copy's MI participants.
        let take_claims_only = (take * n_claims_only).div_ceil(*n_mi).min(*n_claims_only);
        included.iter_mut().for_each(|x| *x = false);
        let copy = k as u64;
        for &i in &order[..take] {
            included[i] = true;
            let p = &persons[i];
            let refs = Refs {
                provider: provider_ref_of_copy(ctx, p, copy),
                claim: None,
            };
            out.lots[p.lot].row(&rows.mi[i], &refs)?;
        }
        for &i in &claims_only[..take_claims_only] {
            included[i] = true;
        }
        written_claims_only += take_claims_only;
        // Claims in the twin's order (by submission), a copy after another.
        let mut provider = vec![None; persons.len()];
        for (n, c) in claims.iter().enumerate() {
            if !included[c.person] {
                continue;
            }
            let provider = provider[c.person]
                .get_or_insert_with(|| provider_ref_of_copy(ctx, &persons[c.person], copy))
                .clone();
            let number = cfg.claims.first_ref + (k * claims.len() + n) as u64;
            let refs = Refs {
                provider,
                claim: Some(format!(
                    "{}{number:0width$}",
                    cfg.claims.ref_prefix,
                    width = cfg.claims.ref_digits
                )),
            };
            out.claims.row(&rows.claims[n], &refs)?;
            written_claims += 1;
        }
    }
    Ok((written_claims, written_claims_only))
}

/// A copy's references.
struct Refs {
    provider: String,
    claim: Option<String>,
}

/// One part of a rendered row.
enum Part {
    /// CSV bytes as they are written.
    Bytes(Vec<u8>),
    /// The copy's provider reference.
    Provider,
    /// The copy's claim reference.
    Claim,
}

/// A twin row rendered once: CSV bytes with gaps for the references.
struct Row(Vec<Part>);

impl Row {
    fn new(header: &[String], cells: &[Cell], date_format: &str) -> Row {
        let mut parts = Vec::new();
        let mut bytes = Vec::new();
        for (c, (name, cell)) in header.iter().zip(cells).enumerate() {
            if c > 0 {
                bytes.push(b',');
            }
            let gap = match name.as_str() {
                "provider_ref" => Some(Part::Provider),
                "claim_ref" => Some(Part::Claim),
                _ => None,
            };
            match gap {
                Some(gap) => {
                    parts.push(Part::Bytes(std::mem::take(&mut bytes)));
                    parts.push(gap);
                }
                None => bytes.extend(field(&cell.text(date_format))),
            }
        }
        bytes.extend_from_slice(b"\r\n");
        parts.push(Part::Bytes(bytes));
        Row(parts)
    }
}

/// One CSV field as the twin's writer quotes it (only when it must).
fn field(text: &str) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record([text]);
    let mut bytes = w.into_inner().unwrap_or_default();
    bytes.truncate(bytes.len().saturating_sub(2));
    bytes
}

/// One output file being streamed.
struct Out {
    path: PathBuf,
    file: BufWriter<File>,
}

impl Out {
    fn create(path: &Path, header: &[String], bom: bool) -> Result<Out> {
        let file = File::create(path).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut out = Out {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
        };
        if bom {
            out.write("\u{feff}".as_bytes())?;
        }
        let line = header
            .iter()
            .map(|h| field(h))
            .collect::<Vec<_>>()
            .join(&b","[..]);
        out.write(&line)?;
        out.write(b"\r\n")?;
        Ok(out)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }

    fn row(&mut self, row: &Row, refs: &Refs) -> Result<()> {
        for part in &row.0 {
            match part {
                Part::Bytes(b) => self.write(b)?,
                Part::Provider => self.write(refs.provider.as_bytes())?,
                Part::Claim => self.write(refs.claim.as_deref().unwrap_or("").as_bytes())?,
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.file.flush().map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}
