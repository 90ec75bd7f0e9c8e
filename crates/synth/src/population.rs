//! Who the participants are before anything is known about them: lot, cohort and registration
//! date (report 2.2 Table 2-1, 4.2.1 Figures 4-1 and 4-2, Tables ).
//!
//! Two exact two-way tables drive it: lot × cohort (margins: participants per lot and per cohort)
//! and cohort × month of registration (margins: cohort totals and the monthly profile, with the
//! months the report describes pinned). Each participant of a cohort then draws a month from that
//! cohort's row without replacement and a day uniformly inside the month.

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::Result;
use crate::alloc::{controlled_round, ipf, largest_remainder};
use crate::person::{Ctx, Person};

/// Builds the MI participants, sorted by lot and registration date.
pub(crate) fn build(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Result<Vec<Person>> {
    let (lot_totals, cohort_totals) = totals(ctx)?;
    let lot_cohort = lot_by_cohort(ctx, &lot_totals, &cohort_totals)?;
    let total: usize = lot_totals.iter().sum();
    let mut persons = Vec::with_capacity(total);
    for (l, row) in lot_cohort.iter().enumerate() {
        for (c, n) in row.iter().enumerate() {
            for _ in 0..*n {
                persons.push(Person {
                    lot: l,
                    cohort: c,
                    ..Person::default()
                });
            }
        }
    }
    let months = registration_months(ctx, total)?;
    let month_cohort = month_by_cohort(ctx, &months, &cohort_totals)?;
    register(ctx, &mut persons, &months, &month_cohort, rng)?;
    persons.shuffle(rng);
    persons.sort_by_key(|p| (p.lot, p.reg));
    Ok(persons)
}

/// Participants per lot and per cohort, which must add up to the same total.
fn totals(ctx: &Ctx) -> Result<(Vec<usize>, Vec<usize>)> {
    let cfg = ctx.cfg;
    let lot_totals: Vec<usize> = ctx
        .lot_codes
        .iter()
        .map(|c| {
            cfg.lots
                .get(c)
                .map(|l| l.participants)
                .ok_or_else(|| ctx.config_err(format!("[lots] has no lot {c}")))
        })
        .collect::<Result<_>>()?;
    let cohort_totals: Vec<usize> =
        ctx.cohort_codes
            .iter()
            .map(|c| {
                cfg.cohorts.participants.get(c).copied().ok_or_else(|| {
                    ctx.config_err(format!("[cohorts] participants has no cohort {c}"))
                })
            })
            .collect::<Result<_>>()?;
    let total: usize = lot_totals.iter().sum();
    if total != cohort_totals.iter().sum::<usize>() {
        return Err(ctx.config_err(format!(
            "participants by lot sum to {total} but by cohort to {}",
            cohort_totals.iter().sum::<usize>()
        )));
    }
    Ok((lot_totals, cohort_totals))
}

fn as_f(v: &[usize]) -> Vec<f64> {
    v.iter().map(|x| *x as f64).collect()
}

/// Participants by lot and cohort: each lot's cohort shares, fitted to both margins and rounded
/// so that every row and column adds up exactly.
fn lot_by_cohort(
    ctx: &Ctx,
    lot_totals: &[usize],
    cohort_totals: &[usize],
) -> Result<Vec<Vec<usize>>> {
    let cfg = ctx.cfg;
    let mut m: Vec<Vec<f64>> =
        ctx.lot_codes
            .iter()
            .map(|l| {
                let shares = cfg.cohort_share_by_lot.get(l).ok_or_else(|| {
                    ctx.config_err(format!("[cohort_share_by_lot] has no lot {l}"))
                })?;
                ctx.cohort_codes
                    .iter()
                    .map(|c| {
                        shares.get(c).copied().ok_or_else(|| {
                            ctx.config_err(format!("[cohort_share_by_lot] {l} has no cohort {c}"))
                        })
                    })
                    .collect::<Result<Vec<f64>>>()
            })
            .collect::<Result<_>>()?;
    ipf(&mut m, &as_f(lot_totals), &as_f(cohort_totals));
    controlled_round(&m, lot_totals, cohort_totals)
        .ok_or_else(|| ctx.config_err("lot × cohort table cannot be rounded to its margins"))
}

/// The first day of every month of `[registration.monthly]` and its registrations, which must
/// add up to the `total` participants.
fn registration_months(ctx: &Ctx, total: usize) -> Result<Vec<(NaiveDate, usize)>> {
    let months: Vec<(NaiveDate, usize)> = ctx
        .cfg
        .registration
        .monthly
        .iter()
        .map(|(k, n)| {
            month_start(k).map(|d| (d, *n)).ok_or_else(|| {
                ctx.config_err(format!("[registration.monthly] `{k}` is not YYYY-MM"))
            })
        })
        .collect::<Result<_>>()?;
    let month_total: usize = months.iter().map(|m| m.1).sum();
    if month_total != total {
        return Err(ctx.config_err(format!(
            "[registration.monthly] sums to {month_total}, not the {total} participants"
        )));
    }
    Ok(months)
}

/// Registrations by month and cohort. The months the report describes are pinned to their own
/// cohort mix; the others share what is left of each cohort, with the mix before or after the
/// first lockdown (Figure 4-2's shift), fitted and rounded to both margins.
fn month_by_cohort(
    ctx: &Ctx,
    months: &[(NaiveDate, usize)],
    cohort_totals: &[usize],
) -> Result<Vec<Vec<usize>>> {
    let cfg = ctx.cfg;
    let mix = &cfg.registration.cohort_mix;
    let shares_of = |map: &std::collections::BTreeMap<String, f64>, what: &str| {
        ctx.cohort_codes
            .iter()
            .map(|c| {
                map.get(c).copied().ok_or_else(|| {
                    ctx.config_err(format!("[registration.cohort_mix] {what} has no {c}"))
                })
            })
            .collect::<Result<Vec<f64>>>()
    };
    let mut month_cohort = vec![vec![0usize; ctx.cohort_codes.len()]; months.len()];
    let mut residual: Vec<i64> = cohort_totals.iter().map(|x| *x as i64).collect();
    let mut free = Vec::new();
    for (k, (start, n)) in months.iter().enumerate() {
        let key = format!("{:04}-{:02}", start.year(), start.month());
        if let Some(p) = mix.pinned.get(&key) {
            let counts = largest_remainder(*n, &shares_of(p, &key)?);
            for (c, x) in counts.iter().enumerate() {
                residual[c] -= *x as i64;
            }
            month_cohort[k] = counts;
        } else {
            free.push(k);
        }
    }
    for key in mix.pinned.keys() {
        if !cfg.registration.monthly.contains_key(key) {
            return Err(ctx.config_err(format!(
                "[registration.cohort_mix.pinned] month {key} is not in [registration.monthly]"
            )));
        }
    }
    if residual.iter().any(|r| *r < 0) {
        return Err(ctx.config_err("pinned months hold more of a cohort than it has"));
    }
    let before = shares_of(&mix.before_lockdown, "before_lockdown")?;
    let after = shares_of(&mix.after_lockdown, "after_lockdown")?;
    let mut seed: Vec<Vec<f64>> = free
        .iter()
        .map(|k| {
            if ctx.study.periods.after_lockdown(months[*k].0) {
                after.clone()
            } else {
                before.clone()
            }
        })
        .collect();
    let free_totals: Vec<usize> = free.iter().map(|k| months[*k].1).collect();
    let residual: Vec<usize> = residual.iter().map(|r| *r as usize).collect();
    ipf(&mut seed, &as_f(&free_totals), &as_f(&residual));
    let rounded = controlled_round(&seed, &free_totals, &residual)
        .ok_or_else(|| ctx.config_err("cohort × month table cannot be rounded to its margins"))?;
    for (row, k) in rounded.into_iter().zip(&free) {
        month_cohort[*k] = row;
    }
    Ok(month_cohort)
}

/// Registration dates: each participant of a cohort draws a month from that cohort's column
/// without replacement, then a day inside the month and the programme period.
fn register(
    ctx: &Ctx,
    persons: &mut [Person],
    months: &[(NaiveDate, usize)],
    month_cohort: &[Vec<usize>],
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let periods = &ctx.study.periods;
    let earliest = periods.programme_start.max(periods.mi_start);
    let last = ctx.latest.min(periods.programme_end);
    for c in 0..ctx.cohort_codes.len() {
        let mut pool: Vec<NaiveDate> = Vec::new();
        for ((start, _), row) in months.iter().zip(month_cohort) {
            pool.extend(std::iter::repeat_n(*start, row[c]));
        }
        pool.shuffle(rng);
        let members = persons.iter_mut().filter(|p| p.cohort == c);
        for (p, start) in members.zip(pool) {
            let end = next_month(start).and_then(|d| d.checked_sub_days(Days::new(1)));
            let (lo, hi) = (start.max(earliest), end.unwrap_or(start).min(last));
            if lo > hi {
                return Err(ctx.config_err(format!(
                    "[registration.monthly] {start} is outside the programme period"
                )));
            }
            let span = (hi - lo).num_days() as u64;
            p.reg = lo + Days::new(rng.random_range(0..=span));
        }
    }
    Ok(())
}

fn month_start(key: &str) -> Option<NaiveDate> {
    let (y, m) = key.split_once('-')?;
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

fn next_month(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_months(chrono::Months::new(1))
}
