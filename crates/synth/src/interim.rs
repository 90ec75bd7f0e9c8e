//! The interim extract: the same synthetic people as the providers' tool held them on an earlier
//! date (`[interim]` in `pipeline/twin.toml`; report Figure 4-2 was drawn from MI to June 2021).
//!
//! A refresh of real MI differs from the one before it in known ways, and the interim twin
//! differs from the final one in exactly those: people registered after the interim date are not
//! there, nor is anything dated after it (an embedding, a job start, a sustainment, a
//! progression); some records of the last months were not entered yet; a few recent records
//! held an error the provider corrected by the final extract (some of them errors the
//! validation rejects); and the claims extract stops at the interim date, with the claims
//! submitted in its last weeks still being queried. So `evalpipe diff` between the two runs
//! shows a refresh as a reviewer meets one, and the interim run reproduces Figure 4-2.

use chrono::{Datelike, NaiveDate};
use rand_chacha::ChaCha8Rng;

use crate::alloc::weighted_pick;
use crate::claims::{Claim, VALIDATED};
use crate::outcomes::add_days;
use crate::person::{Ctx, Person};
use crate::{Result, stream};

/// Status of a claim not yet validated on the interim date.
const QUERIED: &str = "QUERIED";

/// Code written for the planted unknown-ethnicity errors: not in the dictionary's list.
const UNKNOWN_ETHNICITY: &str = "W9";

/// The interim extract.
pub(crate) struct Interim {
    /// Index-aligned with the final participants: their records as of the interim date.
    pub persons: Vec<Person>,
    /// Whether each final participant is in the interim MI files.
    pub entered: Vec<bool>,
    /// The claims extract as of the interim date (the final claims' people and references).
    pub claims: Vec<Claim>,
    /// Rows planted with an error the validation rejects.
    pub rejected_rows: usize,
}

/// Derives the interim extract from the final participants (`n_mi` of them in the MI, then the
/// claims-only ones) and claims.
pub(crate) fn derive(
    ctx: &Ctx,
    persons: &[Person],
    n_mi: usize,
    claims: &[Claim],
    seed: u64,
) -> Result<Interim> {
    let cfg = &ctx.cfg.interim;
    let date = cfg.extract_date;
    let mut rng = stream(seed, "interim");

    // Who was registered by the interim date, and of them who is recent enough to be late.
    let registered: Vec<usize> = (0..n_mi).filter(|i| persons[*i].reg <= date).collect();
    let recent_from = months_before(date, cfg.late_entry_months);
    let recent: Vec<usize> = registered
        .iter()
        .copied()
        .filter(|i| persons[*i].reg > recent_from)
        .collect();

    // Corrections first (they are among the records entered), so that the late entries can
    // make the count of clean in-window records exact.
    let corrected = corrections(ctx, persons, &recent, &mut rng)?;
    let rejected: Vec<usize> = corrected
        .iter()
        .filter(|(_, kind)| rejects(kind))
        .map(|(i, _)| *i)
        .collect();
    let late = late_entries(
        ctx,
        persons,
        &registered,
        &recent,
        &corrected,
        &rejected,
        &mut rng,
    )?;
    let mut entered = vec![false; persons.len()];
    for &i in &registered {
        entered[i] = true;
    }
    for &i in &late {
        entered[i] = false;
    }

    // The records as of the interim date.
    let mut out: Vec<Person> = persons.to_vec();
    for p in out.iter_mut() {
        as_of(ctx, p, date);
    }
    for &(i, kind) in &corrected {
        correct(ctx, &mut out[i], kind);
    }

    let claims = interim_claims(claims, date, cfg.pending_days);

    Ok(Interim {
        persons: out,
        entered,
        claims,
        rejected_rows: rejected.len(),
    })
}

/// Which recent records held an error the provider corrected by the final extract: exactly
/// `[interim] corrections` of each kind, a record at most once.
fn corrections<'c>(
    ctx: &'c Ctx,
    persons: &[Person],
    recent: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, &'c str)>> {
    let cfg = &ctx.cfg.interim;
    let what = "[interim]";
    let date = cfg.extract_date;
    let mut corrected: Vec<(usize, &str)> = Vec::new();
    let mut taken = vec![false; persons.len()];
    for (kind, &k) in &cfg.corrections {
        let eligible: Vec<usize> = recent
            .iter()
            .copied()
            .filter(|i| !taken[*i] && can_correct(ctx, &persons[*i], kind, date))
            .collect();
        let known = [
            "payment_group",
            "date_of_birth",
            "gender",
            "job_start_before_registration",
            "unknown_ethnicity",
        ];
        if !known.contains(&kind.as_str()) {
            return Err(ctx.config_err(format!(
                "{what} corrections: unknown kind `{kind}` (one of {known:?})"
            )));
        }
        let chosen = weighted_pick(rng, &eligible, k, |_| 1.0).ok_or_else(|| {
            ctx.infeasible(
                what,
                format!(
                    "only {} recent records can take a `{kind}` correction, not {k}",
                    eligible.len()
                ),
            )
        })?;
        for i in chosen {
            taken[i] = true;
            corrected.push((i, kind.as_str()));
        }
    }
    Ok(corrected)
}

/// Late entries: enough of the recent, uncorrected records (likelier the more recent) that the
/// clean in-window count is exactly Figure 4-2's N.
fn late_entries(
    ctx: &Ctx,
    persons: &[Person],
    registered: &[usize],
    recent: &[usize],
    corrected: &[(usize, &str)],
    rejected: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    let cfg = &ctx.cfg.interim;
    let what = "[interim]";
    let date = cfg.extract_date;
    let periods = &ctx.study.periods;
    let in_window = |p: &Person| p.reg >= periods.monthly_from && p.reg <= periods.monthly_to;
    let clean_in_window = registered
        .iter()
        .filter(|i| in_window(&persons[**i]) && !rejected.contains(i))
        .count();
    let late_n = clean_in_window
        .checked_sub(cfg.monthly_participants)
        .ok_or_else(|| {
            ctx.infeasible(
                what,
                format!(
                    "{} participants of the monthly figures are registered by {date}, fewer than \
                     monthly_participants = {}",
                    clean_in_window, cfg.monthly_participants
                ),
            )
        })?;
    let late_candidates: Vec<usize> = recent
        .iter()
        .copied()
        .filter(|i| !corrected.iter().any(|(c, _)| c == i) && in_window(&persons[*i]))
        .collect();
    let half_life = cfg.late_entry_half_life_days;
    weighted_pick(rng, &late_candidates, late_n, |i| {
        let back = (date - persons[i].reg).num_days() as f64;
        0.5f64.powf(back / half_life)
    })
    .ok_or_else(|| {
        ctx.infeasible(
            what,
            format!(
                "{late_n} late entries needed but only {} recent records can be late",
                late_candidates.len()
            ),
        )
    })
}

/// The claims extract as of `date`: the claims submitted by then, those of the last
/// `pending_days` still queried.
fn interim_claims(claims: &[Claim], date: NaiveDate, pending_days: i64) -> Vec<Claim> {
    let pending_from = add_days(date, -pending_days);
    claims
        .iter()
        .filter(|c| c.submitted <= date)
        .map(|c| {
            let mut c = c.clone();
            if c.status == VALIDATED && c.submitted > pending_from {
                c.status = QUERIED;
            }
            c
        })
        .collect()
}

/// The last day of the month `months` months before `date`'s: records registered after it (in
/// the last `months` months, `date`'s own included) are "recent".
fn months_before(date: NaiveDate, months: u32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 - months as i32 + 1;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .map_or(date, |d| add_days(d, -1))
}

/// Whether a correction of this kind leaves the interim row invalid (quarantined).
fn rejects(kind: &str) -> bool {
    matches!(kind, "job_start_before_registration" | "unknown_ethnicity")
}

/// Whether the record can carry the error (on the interim date).
fn can_correct(ctx: &Ctx, p: &Person, kind: &str, date: NaiveDate) -> bool {
    let cohort = ctx.cohort_codes[p.cohort].as_str();
    match kind {
        // Between neighbouring out-of-work cohorts: the in-work cohort has fields of its own.
        "payment_group" => neighbour(cohort).is_some(),
        "date_of_birth" => p.dob.is_some(),
        "gender" => p.values.contains_key("gender"),
        "job_start_before_registration" => p.job_start.is_some_and(|d| d <= date),
        "unknown_ethnicity" => p.values.contains_key("ethnicity"),
        _ => false,
    }
}

/// The cohort an out-of-work participant is mistaken for: the one of the next duration band.
fn neighbour(cohort: &str) -> Option<&'static str> {
    match cohort {
        "HTH" => Some("HTR"),
        "HTR" => Some("RP"),
        "RP" => Some("HTR"),
        _ => None,
    }
}

/// Forgets everything dated after `date`.
fn as_of(ctx: &Ctx, p: &mut Person, date: NaiveDate) {
    let after = |d: Option<NaiveDate>| d.filter(|d| *d <= date);
    if p.embedded.is_some_and(|d| d > date) {
        p.embedded = None;
        // Still short of the embedding rule's interventions on the interim date.
        let threshold = if ctx.cohort_codes[p.cohort] == "EMP" {
            ctx.cfg.embedding.min_interventions_in_work
        } else {
            ctx.cfg.embedding.min_interventions_out_of_work
        };
        p.interventions = p.interventions.map(|n| n.min(threshold.saturating_sub(1)));
    }
    p.job_start = after(p.job_start);
    for s in p.sustained.iter_mut() {
        *s = after(*s);
    }
    p.progression = after(p.progression);
    if p.progression.is_none() {
        p.progression_employer = None;
    }
}

/// Puts the interim error into the record.
fn correct(ctx: &Ctx, p: &mut Person, kind: &str) {
    match kind {
        "payment_group" => {
            if let Some(to) = neighbour(&ctx.cohort_codes[p.cohort])
                && let Some(k) = ctx.cohort_codes.iter().position(|c| c == to)
            {
                p.cohort = k;
            }
        }
        "date_of_birth" => {
            p.dob = p.dob.and_then(|d| d.with_year(d.year() - 10));
            p.age = p.age.map(|a| a + 10);
        }
        "gender" => {
            p.values.remove("gender");
        }
        "job_start_before_registration" => {
            // A typing error in the year.
            p.job_start = p.job_start.and_then(|d| d.with_year(p.reg.year() - 1));
        }
        "unknown_ethnicity" => {
            p.values
                .insert("ethnicity".to_string(), UNKNOWN_ETHNICITY.to_string());
        }
        _ => {}
    }
}
