//! The `synth` command: the synthetic twin, its series of refreshes, or a scaled extract of any
//! size.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::paths::{load_study, or_default, project_root};
use crate::progress::Display;

/// Options of `evalpipe synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Seed of the generator; the same seed writes byte-identical files.
    #[arg(long, default_value_t = evalpipe_synth::DEFAULT_SEED)]
    pub seed: u64,
    /// Folder to write the final extract to [default: data/twin].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder to write the interim extract to [default: beside --out, its name + `-interim`,
    /// e.g. data/twin-interim].
    #[arg(long, value_name = "DIR")]
    pub interim_out: Option<PathBuf>,
    /// Study configuration folder [default: pipeline].
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// Write a scaled extract of N MI participants instead (e.g. 100k, 1M, 10M): copies of the
    /// twin's people with new references, every lot as CSV, streamed in bounded memory; no
    /// interim extract. Needs --out, so the embedded twin is never overwritten by accident.
    #[arg(long, value_name = "N", value_parser = participants, requires = "out",
          conflicts_with = "interim_out")]
    pub participants: Option<usize>,
    /// Write the bi-monthly series of refreshes instead (`[series]` of twin.toml): one folder per
    /// refresh date in DIR, `DIR/<YYYYMMDD>/`, each the same synthetic people as on that date,
    /// with late entries, provider corrections and occasional bad files (listed in its
    /// SYNTHETIC.toml); the last is the final twin, the same bytes as --out's.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "interim_out", "participants"])]
    pub series: Option<PathBuf>,
}

/// `--participants`: a count, with an optional k (thousand) or M (million) suffix.
fn participants(text: &str) -> Result<usize, String> {
    let clean = text.trim().replace('_', "");
    let (digits, unit) = match clean.char_indices().last() {
        Some((i, 'k' | 'K')) => (&clean[..i], 1_000),
        Some((i, 'm' | 'M')) => (&clean[..i], 1_000_000),
        _ => (&clean[..], 1),
    };
    match digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
    {
        Some(0) => Err("at least one participant is needed".into()),
        Some(n) => Ok(n),
        None => Err(format!(
            "`{text}` is not a number of participants (e.g. 4000, 100k, 10M)"
        )),
    }
}

pub fn synth(args: &SynthArgs, quiet: bool) -> Result<()> {
    let say = Display::new(quiet);
    let root = project_root();
    let pipeline = or_default(&args.pipeline, &root, "pipeline");
    let out = or_default(&args.out, &root, "data/twin");
    let study = load_study(&pipeline)?;
    let twin_path = pipeline.join("twin.toml");
    let twin = evalpipe_synth::load_twin_config(&twin_path)
        .with_context(|| format!("loading the twin calibration {}", twin_path.display()))?;
    if let Some(series) = &args.series {
        let opts = evalpipe_synth::SeriesOptions {
            seed: args.seed,
            out: series.clone(),
        };
        let summary = evalpipe_synth::generate_series(&study, &twin, &opts)
            .context("synth: writing the series of refreshes")?;
        let (first, last) = (
            summary.refreshes.first().map(|r| r.date),
            summary.refreshes.last().map(|r| r.date),
        );
        say.line(format!(
            "synth: {} refreshes, {} to {} (seed {}{})",
            summary.refreshes.len(),
            first.map_or_else(String::new, |d| d.to_string()),
            last.map_or_else(String::new, |d| d.to_string()),
            args.seed,
            if summary.round > 0 {
                format!(", round {}", summary.round)
            } else {
                String::new()
            }
        ));
        for r in &summary.refreshes {
            let mut planted = Vec::new();
            if let Some(lot) = &r.missing_lot {
                planted.push(format!("{lot}'s file missing"));
            }
            if let Some((lot, column, header)) = &r.renamed_column {
                planted.push(format!("{lot}'s `{column}` headed `{header}`"));
            }
            say.line(format!(
                "  {}: {} participants, {} claims{}",
                r.date,
                r.participants,
                r.claims,
                if planted.is_empty() {
                    String::new()
                } else {
                    format!("; {}", planted.join(", "))
                }
            ));
        }
        for r in &summary.refreshes {
            println!("{}", r.dir.display());
        }
        return Ok(());
    }
    if let Some(participants) = args.participants {
        let opts = evalpipe_synth::ScaledOptions {
            seed: args.seed,
            out: out.clone(),
            participants,
        };
        let summary = evalpipe_synth::generate_scaled(&study, &twin, &opts)
            .context("synth: writing the scaled extract")?;
        say.line(format!(
            "synth: scaled extract {} participants and {} claims; {} files (seed {})",
            summary.participants,
            summary.claims,
            summary.files.len(),
            args.seed
        ));
        println!("{}", out.display());
        return Ok(());
    }
    let interim_out = args.interim_out.clone().unwrap_or_else(|| {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "twin".to_string());
        out.with_file_name(format!("{name}-interim"))
    });
    let opts = evalpipe_synth::SynthOptions {
        seed: args.seed,
        out: out.clone(),
        interim_out: Some(interim_out.clone()),
    };
    let summary =
        evalpipe_synth::generate(&study, &twin, &opts).context("synth: generating the twin")?;
    say.line(format!(
        "synth: final extract {} participants and {} claims, interim extract {} and {}; {} files (seed {}{})",
        summary.participants,
        summary.claims,
        summary.interim.map_or(0, |x| x.0),
        summary.interim.map_or(0, |x| x.1),
        summary.files.len(),
        args.seed,
        if summary.round > 0 {
            format!(
                ", round {}: the earlier draws could not meet every published cell",
                summary.round
            )
        } else {
            String::new()
        }
    ));
    println!("{}", out.display());
    println!("{}", interim_out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::participants;

    #[test]
    fn participants_take_thousands_and_millions() {
        assert_eq!(participants("3966"), Ok(3966));
        assert_eq!(participants("100k"), Ok(100_000));
        assert_eq!(participants("10M"), Ok(10_000_000));
        assert_eq!(participants("1_000_000"), Ok(1_000_000));
        assert_eq!(participants("2m"), Ok(2_000_000));
        assert!(participants("0").is_err());
        assert!(participants("1.5M").is_err());
        assert!(participants("M").is_err());
        assert!(participants("99999999999999999999M").is_err());
    }
}
