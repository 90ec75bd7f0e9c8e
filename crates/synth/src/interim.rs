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
//!
//! The same derivation ([`as_of_date`], with [`Rules`] read from `[interim]` or `[series]`) gives
//! every refresh of the bi-monthly series ([`crate::series`]); the interim extract is calibrated
//! to an exact count of late entries, a refresh of the series has their expected number.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rand_chacha::ChaCha8Rng;

use crate::alloc::weighted_pick;
use crate::claims::{Claim, VALIDATED};
use crate::outcomes::add_days;
use crate::person::{Ctx, Person};
use crate::{Result, stream};

/// Status of a claim not yet validated on the extract's date.
const QUERIED: &str = "QUERIED";

/// Code written for the planted unknown-ethnicity errors: not in the dictionary's list.
const UNKNOWN_ETHNICITY: &str = "W9";

/// An extract as of an earlier date: the interim one, or a refresh of the series
/// ([`crate::series`]).
pub(crate) struct AsOf<'c> {
    /// Index-aligned with the final participants: their records as of the date.
    pub persons: Vec<Person>,
    /// Whether each final participant is in the MI files of that date.
    pub entered: Vec<bool>,
    /// The claims extract as of the date (the final claims' people and references).
    pub claims: Vec<Claim>,
    /// The records holding an error a later extract corrects (the next refresh, or the final
    /// extract), and its kind.
    pub corrected: Vec<(usize, &'c str)>,
    /// Registered by the date but not entered yet.
    pub late: usize,
}

impl AsOf<'_> {
    /// Rows planted with an error the validation rejects.
    pub fn rejected(&self) -> impl Iterator<Item = usize> + '_ {
        self.corrected
            .iter()
            .filter(|(_, kind)| rejects(kind))
            .map(|(i, _)| *i)
    }
}

/// How an extract of an earlier date differs from the final one: the settings of `[interim]`
/// or of `[series]`.
pub(crate) struct Rules<'c> {
    /// The section of `twin.toml`, for messages.
    pub what: &'c str,
    /// The extract's date.
    pub date: NaiveDate,
    /// How many recent records are not entered yet.
    pub late: Late,
    /// Records not yet entered come from this many months before the date…
    pub late_entry_months: u32,
    /// …the more recent the likelier: the chance halves every this many days back.
    pub late_entry_half_life_days: f64,
    /// Records holding an error, by kind.
    pub corrections: &'c BTreeMap<String, usize>,
    /// Exactly `corrections` of each kind, or fewer.
    pub corrections_limit: Limit,
    /// Validated claims submitted this many days or fewer before the date are still queried.
    pub pending_days: i64,
}

/// Whether the corrections are exact counts.
pub(crate) enum Limit {
    /// Exactly `corrections` of each kind (the interim's).
    Exact,
    /// Up to `corrections` of each kind, as many as there are records that can carry one, and
    /// in all at most this share of the records new to the extract (a refresh of the series:
    /// the first refreshes have few records).
    AtMostShare(f64),
}

/// How many recent records are late.
pub(crate) enum Late {
    /// As many as leave exactly this many participants, without a validation error,
    /// registered in the months of the monthly figures (the interim's Figure 4-2 N).
    LeavingInWindow(usize),
    /// The expected number when each record is late with this chance at zero days back,
    /// halving every half-life (a refresh of the series), rounded.
    Chance(f64),
}

/// Derives the interim extract from the final participants (`n_mi` of them in the MI, then the
/// claims-only ones) and claims.
pub(crate) fn derive<'c>(
    ctx: &'c Ctx,
    persons: &[Person],
    n_mi: usize,
    claims: &[Claim],
    seed: u64,
) -> Result<AsOf<'c>> {
    let cfg = &ctx.cfg.interim;
    let rules = Rules {
        what: "[interim]",
        date: cfg.extract_date,
        late: Late::LeavingInWindow(cfg.monthly_participants),
        late_entry_months: cfg.late_entry_months,
        late_entry_half_life_days: cfg.late_entry_half_life_days,
        corrections: &cfg.corrections,
        corrections_limit: Limit::Exact,
        pending_days: cfg.pending_days,
    };
    let entered_before = vec![false; persons.len()];
    as_of_date(
        ctx,
        persons,
        n_mi,
        claims,
        &rules,
        &entered_before,
        &mut stream(seed, "interim"),
    )
}

/// Derives the extract of `rules.date` from the final participants (`n_mi` of them in the MI,
/// then the claims-only ones) and claims. `entered_before` marks the records an earlier extract
/// of the same series already held: they are never late again, nor the ones given an error
/// (a provider's errors are in the records it has just entered).
pub(crate) fn as_of_date<'c>(
    ctx: &'c Ctx,
    persons: &[Person],
    n_mi: usize,
    claims: &[Claim],
    rules: &Rules<'c>,
    entered_before: &[bool],
    rng: &mut ChaCha8Rng,
) -> Result<AsOf<'c>> {
    let date = rules.date;

    // Who was registered by the date, and of them who is recent enough to be late (and not
    // entered by an earlier extract).
    let registered: Vec<usize> = (0..n_mi).filter(|i| persons[*i].reg <= date).collect();
    let recent_from = months_before(date, rules.late_entry_months);
    let recent: Vec<usize> = registered
        .iter()
        .copied()
        .filter(|i| persons[*i].reg > recent_from && !entered_before[*i])
        .collect();

    // Corrections first (they are among the records entered), so that the late entries can
    // make the count of clean in-window records exact.
    let corrected = corrections(ctx, persons, &recent, rules, rng)?;
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
        rules,
        rng,
    )?;
    let mut entered = vec![false; persons.len()];
    for &i in &registered {
        entered[i] = true;
    }
    for &i in &late {
        entered[i] = false;
    }

    // The records as of the date.
    let mut out: Vec<Person> = persons.to_vec();
    for p in out.iter_mut() {
        as_of(ctx, p, date);
    }
    for &(i, kind) in &corrected {
        correct(ctx, &mut out[i], kind);
    }

    let claims = claims_as_of(claims, date, rules.pending_days);

    Ok(AsOf {
        persons: out,
        entered,
        claims,
        corrected,
        late: late.len(),
    })
}

/// The kinds of provider error the twin plants.
pub(crate) const KINDS: [&str; 5] = [
    "payment_group",
    "date_of_birth",
    "gender",
    "job_start_before_registration",
    "unknown_ethnicity",
];

/// Which recent records held an error the provider corrected by a later extract: `corrections`
/// of each kind (exactly, or at most: `rules.corrections_limit`), a record at most once.
fn corrections<'c>(
    ctx: &Ctx,
    persons: &[Person],
    recent: &[usize],
    rules: &Rules<'c>,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, &'c str)>> {
    let (what, date) = (rules.what, rules.date);
    let mut corrected: Vec<(usize, &str)> = Vec::new();
    let mut taken = vec![false; persons.len()];
    let wanted = wanted_corrections(ctx, persons, recent, rules);
    for (kind, &k) in rules.corrections {
        let eligible: Vec<usize> = recent
            .iter()
            .copied()
            .filter(|i| !taken[*i] && can_correct(ctx, &persons[*i], kind, date))
            .collect();
        if !KINDS.contains(&kind.as_str()) {
            return Err(ctx.config_err(format!(
                "{what} corrections: unknown kind `{kind}` (one of {KINDS:?})"
            )));
        }
        let k = match rules.corrections_limit {
            Limit::Exact => k,
            Limit::AtMostShare(_) => wanted[kind.as_str()].min(eligible.len()),
        };
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

/// How many corrections of each kind an extract under [`Limit::AtMostShare`] gets: one of each
/// kind in turn (the kinds validation rejects first, so a refresh with few new records still
/// has one its run quarantines) while the share of the recent records allows, up to the
/// configured count and the records that can carry the kind.
fn wanted_corrections<'r>(
    ctx: &Ctx,
    persons: &[Person],
    recent: &[usize],
    rules: &'r Rules,
) -> BTreeMap<&'r str, usize> {
    let mut wanted: BTreeMap<&str, usize> =
        rules.corrections.keys().map(|k| (k.as_str(), 0)).collect();
    let Limit::AtMostShare(share) = rules.corrections_limit else {
        return wanted;
    };
    let mut budget = (share * recent.len() as f64).floor() as usize;
    let mut order: Vec<(&str, usize)> = rules
        .corrections
        .iter()
        .map(|(kind, &k)| {
            let can = recent
                .iter()
                .filter(|i| can_correct(ctx, &persons[**i], kind, rules.date))
                .count();
            (kind.as_str(), k.min(can))
        })
        .collect();
    order.sort_by_key(|(kind, _)| !rejects(kind));
    while budget > 0 {
        let mut gave = false;
        for &(kind, most) in &order {
            let n = wanted.entry(kind).or_default();
            if budget > 0 && *n < most {
                *n += 1;
                budget -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    wanted
}

/// Late entries among the recent, uncorrected records, likelier the more recent: for the interim
/// enough that the clean in-window count is exactly Figure 4-2's N, for a refresh of the series
/// their expected number.
#[allow(clippy::too_many_arguments)]
fn late_entries(
    ctx: &Ctx,
    persons: &[Person],
    registered: &[usize],
    recent: &[usize],
    corrected: &[(usize, &str)],
    rejected: &[usize],
    rules: &Rules,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    let (what, date) = (rules.what, rules.date);
    let half_life = rules.late_entry_half_life_days;
    let weight = |i: usize| {
        let back = (date - persons[i].reg).num_days() as f64;
        0.5f64.powf(back / half_life)
    };
    let uncorrected = |i: &usize| !corrected.iter().any(|(c, _)| c == i);
    let (late_n, late_candidates) = match rules.late {
        Late::LeavingInWindow(monthly_participants) => {
            let periods = &ctx.study.periods;
            let in_window =
                |p: &Person| p.reg >= periods.monthly_from && p.reg <= periods.monthly_to;
            let clean_in_window = registered
                .iter()
                .filter(|i| in_window(&persons[**i]) && !rejected.contains(i))
                .count();
            let late_n = clean_in_window
                .checked_sub(monthly_participants)
                .ok_or_else(|| {
                    ctx.infeasible(
                        what,
                        format!(
                            "{clean_in_window} participants of the monthly figures are \
                             registered by {date}, fewer than monthly_participants = \
                             {monthly_participants}"
                        ),
                    )
                })?;
            let candidates: Vec<usize> = recent
                .iter()
                .copied()
                .filter(|i| uncorrected(i) && in_window(&persons[*i]))
                .collect();
            (late_n, candidates)
        }
        Late::Chance(chance) => {
            let candidates: Vec<usize> = recent.iter().copied().filter(uncorrected).collect();
            let expected: f64 = candidates.iter().map(|i| chance * weight(*i)).sum();
            (expected.round() as usize, candidates)
        }
    };
    weighted_pick(rng, &late_candidates, late_n, weight).ok_or_else(|| {
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
fn claims_as_of(claims: &[Claim], date: NaiveDate, pending_days: i64) -> Vec<Claim> {
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

/// Whether a correction of this kind leaves the row invalid (quarantined).
pub(crate) fn rejects(kind: &str) -> bool {
    matches!(kind, "job_start_before_registration" | "unknown_ethnicity")
}

/// Whether the record can carry the error (on the extract's date).
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
        // Still short of the embedding rule's interventions on the extract's date.
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

/// Puts the error into the record.
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
