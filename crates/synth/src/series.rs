//! The bi-monthly series of refreshes (`evalpipe synth --series DIR`, `[series]` in
//! `pipeline/twin.toml`): the same synthetic people as the providers' tool held them on every
//! refresh date of the programme, each in its own folder `DIR/<YYYYMMDD>/` named as a refresh is
//! (`mi_<LOT>_<YYYYMMDD>`, `claims_<YYYYMMDD>`).
//!
//! The refresh dates are the final extract date and every `every_months` month end before it,
//! back to the first one with an MI participant registered by it. The last refresh is the final
//! twin itself, written by the same code as `data/twin`; every earlier one is derived from the
//! final people as the interim extract is ([`crate::interim::as_of_date`]), in date order, so
//! that each carries on from the one before: later registrations and later outcomes absent,
//! late entries (records of the last months not entered yet; a record once entered stays),
//! provider corrections (errors in newly entered records, corrected by the next refresh, some
//! of them errors validation rejects), claims to the date with the recent ones still queried.
//! And occasionally a bad file: a lot's MI file with a column under another header (ingest
//! rejects the file) or a lot's file missing. Which refresh and lot is drawn from the seed, and
//! every refresh's `SYNTHETIC.toml` lists what was planted in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use evalpipe_study::Study;

use crate::alloc::weighted_pick;
use crate::interim::{self, Late, Limit, Rules};
use crate::outcomes::add_days;
use crate::person::Ctx;
use crate::{Drawn, Extract, Result, SeriesPart, TwinConfig, draw_twin, stream, write_extract};

/// Where to write the series and with which seed.
#[derive(Debug, Clone)]
pub struct SeriesOptions {
    /// Seed of the twin (the same as `generate`'s: the last refresh is that twin).
    pub seed: u64,
    /// Folder to write into: one folder per refresh inside it, named by its date (`YYYYMMDD`);
    /// files of the same names are overwritten, nothing else is touched.
    pub out: PathBuf,
}

/// What [`generate_series`] wrote.
#[derive(Debug, Clone)]
pub struct SeriesSummary {
    /// Every refresh, in date order; the last is the final extract.
    pub refreshes: Vec<Refresh>,
    /// The round of the seed whose population was kept (see `SynthSummary::round`).
    pub round: u32,
}

/// One refresh of the series.
#[derive(Debug, Clone)]
pub struct Refresh {
    /// Its date.
    pub date: NaiveDate,
    /// Its folder.
    pub dir: PathBuf,
    /// Participants in its MI files.
    pub participants: usize,
    /// Rows of its claims file.
    pub claims: usize,
    /// The lot whose MI file it lacks, if one was planted.
    pub missing_lot: Option<String>,
    /// The lot whose MI file has a renamed column, the column and the header written instead,
    /// if one was planted.
    pub renamed_column: Option<(String, String, String)>,
}

/// A planted bad file: lot `lot`'s MI file has column `renamed.0` under the header
/// `renamed.1`, or when `renamed` is `None`, is missing.
#[derive(Debug, Clone)]
pub(crate) struct BadFile {
    pub lot: usize,
    pub renamed: Option<(String, String)>,
}

/// Writes the series of refreshes into `opts.out`. Deterministic in (`study`, `twin`,
/// `opts.seed`); the last refresh's folder holds the same bytes as [`crate::generate`]'s `out`.
pub fn generate_series(
    study: &Study,
    twin: &TwinConfig,
    opts: &SeriesOptions,
) -> Result<SeriesSummary> {
    let cfg = &twin.file;
    let s = &cfg.series;
    let drawn = draw_twin(study, twin, opts.seed)?;
    let Drawn {
        ctx,
        persons,
        n_mi,
        claims,
        seed,
        round,
        ..
    } = &drawn;
    let first = persons[..*n_mi]
        .iter()
        .map(|p| p.reg)
        .min()
        .ok_or_else(|| ctx.infeasible("[series]", "the twin has no MI participant".into()))?;
    let dates = refresh_dates(cfg.twin.extract_date, s.every_months, first);
    let earlier = dates.len() - 1;
    let bad = plant_bad_files(ctx, earlier, *seed)?;

    let mut refreshes = Vec::with_capacity(dates.len());
    let mut entered_before = vec![false; persons.len()];
    for (k, &date) in dates[..earlier].iter().enumerate() {
        let rules = Rules {
            what: "[series]",
            date,
            late: Late::Chance(s.late_entry_chance),
            late_entry_months: s.late_entry_months,
            late_entry_half_life_days: s.late_entry_half_life_days,
            corrections: &s.corrections,
            corrections_limit: Limit::AtMostShare(s.max_corrected_share),
            pending_days: s.pending_days,
        };
        let x = interim::as_of_date(
            ctx,
            persons,
            *n_mi,
            claims,
            &rules,
            &entered_before,
            &mut stream(*seed, &format!("series {date}")),
        )?;
        let bad = bad[k].as_ref();
        let missing = bad.filter(|b| b.renamed.is_none()).map(|b| b.lot);
        let written = |i: usize| x.entered[i] && missing != Some(persons[i].lot);
        let mut corrections: BTreeMap<String, usize> =
            s.corrections.keys().map(|k| (k.clone(), 0)).collect();
        for &(i, kind) in &x.corrected {
            if written(i) {
                *corrections.entry(kind.to_string()).or_default() += 1;
            }
        }
        // The claims-only participants with a claim in this refresh's extract.
        let claims_only: BTreeSet<usize> = x
            .claims
            .iter()
            .map(|c| c.person)
            .filter(|p| *p >= *n_mi)
            .collect();
        let dir = opts.out.join(stamp(date));
        let (_, participants) = write_extract(
            ctx,
            &Extract {
                persons: &x.persons,
                entered: &|i| x.entered[i],
                claims_persons: persons,
                claims: &x.claims,
                date,
                name: "refresh",
                claims_only_participants: claims_only.len(),
                rejected_rows: x.rejected().filter(|i| written(*i)).count(),
                series: Some(SeriesPart {
                    refresh: k + 1,
                    refreshes: dates.len(),
                    late_entries: x.late,
                    corrections,
                    bad,
                }),
            },
            (opts.seed, *round),
            &twin.path,
            &dir,
        )?;
        let lot = |b: &BadFile| ctx.lot_codes[b.lot].clone();
        refreshes.push(Refresh {
            date,
            dir,
            participants,
            claims: x.claims.len(),
            missing_lot: bad.filter(|b| b.renamed.is_none()).map(lot),
            renamed_column: bad.and_then(|b| {
                b.renamed
                    .as_ref()
                    .map(|(c, h)| (lot(b), c.clone(), h.clone()))
            }),
        });
        entered_before = x.entered;
    }

    let date = cfg.twin.extract_date;
    let dir = opts.out.join(stamp(date));
    let (_, participants) = crate::write_final(&drawn, opts.seed, twin, &dir)?;
    refreshes.push(Refresh {
        date,
        dir,
        participants,
        claims: claims.len(),
        missing_lot: None,
        renamed_column: None,
    });
    Ok(SeriesSummary {
        refreshes,
        round: *round,
    })
}

/// A refresh's folder name: its date as `YYYYMMDD`, as in its files' names.
fn stamp(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// The refresh dates, in order: the month ends every `every` months before `last`, back to the
/// first on or after `first` (the first registration), then `last` itself.
pub(crate) fn refresh_dates(last: NaiveDate, every: u32, first: NaiveDate) -> Vec<NaiveDate> {
    let month = last.year() * 12 + last.month0() as i32;
    let mut dates = vec![last];
    for back in (1..).map(|j| month - j * every.max(1) as i32) {
        // The last day of month `back`: the day before the first of the next.
        let next = back + 1;
        let Some(date) =
            NaiveDate::from_ymd_opt(next.div_euclid(12), next.rem_euclid(12) as u32 + 1, 1)
                .map(|d| add_days(d, -1))
        else {
            break;
        };
        if date < first {
            break;
        }
        dates.push(date);
    }
    dates.reverse();
    dates
}

/// Which of the `earlier` refreshes (all but the final one) gets a bad file, of which lot:
/// `renamed_column_files` renamed columns and `missing_lot_files` missing files, in distinct
/// refreshes, drawn from the seed.
fn plant_bad_files(ctx: &Ctx, earlier: usize, seed: u64) -> Result<Vec<Option<BadFile>>> {
    let s = &ctx.cfg.series;
    let mut rng = stream(seed, "series bad files");
    let planted = s.renamed_column_files + s.missing_lot_files;
    let refreshes: Vec<usize> = (0..earlier).collect();
    let infeasible = || {
        ctx.infeasible(
            "[series]",
            format!(
                "{planted} bad files (renamed_column_files + missing_lot_files) need as many \
                 refreshes before the final one, and there are {earlier}"
            ),
        )
    };
    let chosen = weighted_pick(&mut rng, &refreshes, planted, |_| 1.0).ok_or_else(infeasible)?;
    let positions: Vec<usize> = (0..planted).collect();
    let renamed = weighted_pick(&mut rng, &positions, s.renamed_column_files, |_| 1.0)
        .ok_or_else(infeasible)?;
    let headers: Vec<(&String, &String)> = s.renamed_headers.iter().collect();
    if s.renamed_column_files > 0 && headers.is_empty() {
        return Err(
            ctx.config_err("[series] renamed_column_files needs at least one of renamed_headers")
        );
    }
    let mut bad = vec![None; earlier];
    for (j, &k) in chosen.iter().enumerate() {
        let lot = rng.random_range(0..ctx.lot_codes.len());
        let renamed = renamed.contains(&j).then(|| {
            let (column, header) = headers[rng.random_range(0..headers.len())];
            (column.clone(), header.clone())
        });
        bad[k] = Some(BadFile { lot, renamed });
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::refresh_dates;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn refreshes_are_month_ends_back_to_the_first_registration() {
        let dates = refresh_dates(d(2022, 1, 31), 2, d(2021, 6, 29));
        assert_eq!(
            dates,
            [
                d(2021, 7, 31),
                d(2021, 9, 30),
                d(2021, 11, 30),
                d(2022, 1, 31)
            ]
        );
        // Across a year end and a February.
        let dates = refresh_dates(d(2020, 4, 30), 2, d(2019, 12, 31));
        assert_eq!(dates, [d(2019, 12, 31), d(2020, 2, 29), d(2020, 4, 30)]);
        // Nobody registered before the last date: the final extract alone.
        assert_eq!(
            refresh_dates(d(2022, 1, 31), 2, d(2022, 1, 1)),
            [d(2022, 1, 31)]
        );
    }
}
