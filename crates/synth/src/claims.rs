//! The claims extract: one row per milestone claim (report 1.3, 2.2–2.3, Figure 2-1).
//!
//! Claims come from the same synthetic people as the MI. A milestone the MI records on or before
//! the lot's claims cut-off becomes a validated claim; the published validated counts are then hit
//! exactly: surplus MI milestones become rejected or queried claims (claims-only participants'
//! registrations are always kept), and a shortfall is made up from claims-only participants (the
//! MI is a sample, report 1.3). A validated claim never gives an MI participant an outcome the MI
//! does not record, so the pipeline's outcomes (MI completed by claims) are exactly the MI's, and
//! the rates calibrated in [`crate::calibrate`] survive the matching. The claims dictionary's
//! sequence rules (S13 needs JS, …) hold among validated claims, and each participant has at most
//! one claim per milestone.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::alloc::weighted_pick;
use crate::outcomes::{add_days, date_after, sustainment_weeks};
use crate::person::{Ctx, Person};
use crate::{Error, Result, stream};

/// Claim status codes (claims dictionary `claim_status`).
pub(crate) const VALIDATED: &str = "VALIDATED";
const REJECTED: &str = "REJECTED";
const QUERIED: &str = "QUERIED";

/// The outcome a milestone code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Registered,
    Embedded,
    JobStart,
    Sustained(usize),
    Progression,
}

fn kind(code: &str) -> Option<Kind> {
    Some(match code {
        "REG" => Kind::Registered,
        "EMB" => Kind::Embedded,
        "JS" => Kind::JobStart,
        "S13" => Kind::Sustained(0),
        "S26" => Kind::Sustained(1),
        "S52" => Kind::Sustained(2),
        "PROG" => Kind::Progression,
        _ => return None,
    })
}

/// One claim row.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub person: usize,
    /// Index into `study.milestones`.
    pub milestone: usize,
    pub date: NaiveDate,
    pub submitted: NaiveDate,
    pub amount: f64,
    pub status: &'static str,
    pub claim_ref: String,
}

/// Adds the claims-only participants (`[claims] claims_only_participants`; the MI is a sample,
/// report 1.3). Each copies an MI participant registered by the claims cut-off (its lot, cohort
/// and time line, shifted by a few days).
pub(crate) fn add_claims_only(ctx: &Ctx, persons: &mut Vec<Person>, seed: u64) -> Result<usize> {
    let mut rng = stream(seed, "claims:claims_only");
    let n = ctx.cfg.claims.claims_only_participants;
    let cutoff = |p: &Person| ctx.study.periods.claims_cutoff(&ctx.lot_codes[p.lot]);
    let donors: Vec<usize> = (0..persons.len())
        .filter(|i| persons[*i].reg <= cutoff(&persons[*i]))
        .collect();
    if donors.is_empty() && n > 0 {
        return Err(ctx.infeasible(
            "[claims] claims_only_participants",
            "no MI participant registered by the cut-off to copy".to_string(),
        ));
    }
    let start = ctx.study.periods.programme_start;
    for _ in 0..n {
        let d = donors[rng.random_range(0..donors.len())];
        let mut p = persons[d].clone();
        p.claims_only = true;
        let mut shift: i64 = rng.random_range(-20..=20);
        let reg = add_days(p.reg, shift);
        if reg < start || reg > cutoff(&p) {
            shift = 0;
        }
        let move_date = |x: &mut Option<NaiveDate>| *x = x.map(|d| add_days(d, shift));
        p.reg = add_days(p.reg, shift);
        move_date(&mut p.embedded);
        move_date(&mut p.job_start);
        for s in p.sustained.iter_mut() {
            move_date(s);
        }
        move_date(&mut p.progression);
        persons.push(p);
    }
    Ok(n)
}

/// Claims of one milestone to write: the participant and the claim's date.
type ClaimDates = Vec<(usize, NaiveDate)>;

struct Builder<'a, 'c> {
    ctx: &'a Ctx<'c>,
    persons: &'a [Person],
    /// Validated claim date by milestone code, then participant.
    validated: BTreeMap<String, BTreeMap<usize, NaiveDate>>,
    claims: Vec<Claim>,
    weeks: [u32; 3],
}

/// Builds every claim, refs assigned in submission order.
pub(crate) fn build(ctx: &Ctx, persons: &[Person], seed: u64) -> Result<Vec<Claim>> {
    let mut b = Builder {
        ctx,
        persons,
        validated: BTreeMap::new(),
        claims: Vec::new(),
        weeks: sustainment_weeks(ctx)?,
    };
    for (m, milestone) in ctx.study.milestones.iter().enumerate() {
        let k = kind(&milestone.code).ok_or_else(|| {
            ctx.config_err(format!(
                "milestone `{}` of study.toml has no synthetic outcome",
                milestone.code
            ))
        })?;
        let target = *ctx
            .cfg
            .claims
            .validated
            .get(&milestone.code)
            .ok_or_else(|| {
                ctx.config_err(format!("[claims] validated has no {}", milestone.code))
            })?;
        let mut rng = stream(seed, &format!("claims:{}", milestone.code));
        if k == Kind::Progression {
            let oow =
                (ctx.cfg.claims.progression_out_of_work_share * target as f64).round() as usize;
            b.milestone(m, k, Some(true), oow, &mut rng)?;
            b.milestone(m, k, Some(false), target - oow.min(target), &mut rng)?;
        } else {
            b.milestone(m, k, None, target, &mut rng)?;
        }
    }
    let mut claims = b.claims;
    let order = |c: &Claim| {
        (
            c.submitted,
            c.milestone,
            persons[c.person].lot,
            persons[c.person].ref_num,
        )
    };
    claims.sort_by_key(order);
    let cfg = &ctx.cfg.claims;
    for (n, c) in claims.iter_mut().enumerate() {
        c.claim_ref = format!(
            "{}{:0width$}",
            cfg.ref_prefix,
            cfg.first_ref + n as u64,
            width = cfg.ref_digits
        );
    }
    Ok(claims)
}

impl Builder<'_, '_> {
    fn cutoff(&self, i: usize) -> NaiveDate {
        self.ctx
            .study
            .periods
            .claims_cutoff(&self.ctx.lot_codes[self.persons[i].lot])
    }

    fn has(&self, code: &str, i: usize) -> Option<NaiveDate> {
        self.validated.get(code).and_then(|v| v.get(&i)).copied()
    }

    /// The validated claim this milestone needs first (claims dictionary `milestone_requires`).
    fn required(&self, m: usize) -> Option<&String> {
        let code = &self.ctx.study.milestones[m].code;
        self.ctx.study.claims.dataset.milestone_requires.get(code)
    }

    /// The outcome date the synthetic person actually has (MI, or copied for claims-only).
    fn truth(&self, k: Kind, i: usize) -> Option<NaiveDate> {
        let p = &self.persons[i];
        match k {
            Kind::Registered => Some(p.reg),
            Kind::Embedded => p.embedded,
            Kind::JobStart => p.job_start,
            Kind::Sustained(s) => p.sustained[s],
            Kind::Progression => p.progression,
        }
    }

    /// A date for a claim the MI does not show, consistent with the validated claims before it.
    fn fill_date(&self, k: Kind, i: usize, rng: &mut ChaCha8Rng) -> Option<NaiveDate> {
        let ctx = self.ctx;
        let p = &self.persons[i];
        let cutoff = self.cutoff(i);
        let oow = ctx.out_of_work(p);
        match k {
            Kind::Registered => Some(p.reg).filter(|d| *d <= cutoff),
            Kind::Embedded => {
                self.has("REG", i)?;
                date_after(rng, p.reg, ctx.cfg.embedding.days(oow), cutoff)
            }
            Kind::JobStart => date_after(rng, self.has("EMB", i)?, [14, 200], cutoff),
            Kind::Sustained(s) => {
                let js = self.has("JS", i)?;
                if s > 0 {
                    self.has(["S13", "S26"][s - 1], i)?;
                }
                let from = add_days(js, i64::from(self.weeks[s]) * 7);
                date_after(rng, from, ctx.cfg.sustainment.jitter_days, cutoff)
            }
            Kind::Progression => {
                let g = &ctx.cfg.progression;
                if oow {
                    date_after(rng, self.has("JS", i)?, g.days_after_job_start, cutoff)
                } else {
                    date_after(rng, self.has("EMB", i)?, g.days_after_embedding, cutoff)
                }
            }
        }
    }

    /// Validated claims for one milestone (and, for progression, one side of out of work),
    /// exactly `target`, plus some rejected or queried ones.
    fn milestone(
        &mut self,
        m: usize,
        k: Kind,
        out_of_work: Option<bool>,
        target: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let ctx = self.ctx;
        let ms = &ctx.study.milestones[m];
        let what = format!("[claims] validated {}", ms.code);
        let in_scope = |i: usize| {
            let p = &self.persons[i];
            ms.cohorts.contains(&ctx.cohort_codes[p.cohort])
                && out_of_work.is_none_or(|o| ctx.out_of_work(p) == o)
        };
        let scope: Vec<usize> = (0..self.persons.len()).filter(|i| in_scope(*i)).collect();
        // Those the MI shows reaching the milestone in time, with the claim it needs first.
        let primary: Vec<usize> = scope
            .iter()
            .copied()
            .filter(|&i| {
                self.prerequisite_met(m, i) && self.truth(k, i).is_some_and(|d| d <= self.cutoff(i))
            })
            .collect();
        let (chosen, mut rejected) = if primary.len() >= target {
            self.keep(k, &primary, target, &what, rng)?
        } else {
            let made_up = self.make_up(m, k, &scope, &primary, target, &what, rng)?;
            (made_up, Vec::new())
        };
        let entry = self.validated.entry(ms.code.clone()).or_default();
        for (i, d) in &chosen {
            entry.insert(*i, *d);
        }
        for (i, d) in chosen {
            self.push(m, i, d, VALIDATED, rng)?;
        }
        self.not_validated(m, k, &scope, target, &mut rejected, rng);
        for (i, d) in rejected {
            let status = if rng.random::<f64>() < ctx.cfg.claims.queried_share {
                QUERIED
            } else {
                REJECTED
            };
            self.push(m, i, d, status, rng)?;
        }
        Ok(())
    }

    /// Whether participant `i` has the validated claim milestone `m` needs first, if any.
    fn prerequisite_met(&self, m: usize, i: usize) -> bool {
        self.required(m).is_none_or(|r| self.has(r, i).is_some())
    }

    /// More of the MI's participants reach the milestone than the claims validate: `target` of
    /// them are (claims-only participants and those whose later milestones depend on this claim
    /// likeliest), the rest are the surplus, claimed but not validated.
    fn keep(
        &self,
        k: Kind,
        primary: &[usize],
        target: usize,
        what: &str,
        rng: &mut ChaCha8Rng,
    ) -> Result<(ClaimDates, ClaimDates)> {
        let keep = weighted_pick(rng, primary, target, |i| {
            let later = if self.later(k, i) { 4.0 } else { 1.0 };
            if self.persons[i].claims_only {
                // A claims-only participant without a registration would not exist at all.
                1000.0 * later
            } else {
                later
            }
        })
        .ok_or_else(|| Error::Internal {
            message: format!("{what}: cannot keep {target}"),
        })?;
        let keep_set: std::collections::BTreeSet<usize> = keep.iter().copied().collect();
        let (mut chosen, mut rejected) = (Vec::new(), Vec::new());
        for &i in primary {
            let d = self.truth(k, i).unwrap_or(self.persons[i].reg);
            if keep_set.contains(&i) {
                chosen.push((i, d));
            } else {
                rejected.push((i, d));
            }
        }
        Ok((chosen, rejected))
    }

    /// Fewer of the MI's participants reach the milestone than the claims validate: all of
    /// them, and claims-only participants make up the rest (the MI being a sample), so no MI
    /// participant gets an outcome the MI lacks.
    #[allow(clippy::too_many_arguments)]
    fn make_up(
        &self,
        m: usize,
        k: Kind,
        scope: &[usize],
        primary: &[usize],
        target: usize,
        what: &str,
        rng: &mut ChaCha8Rng,
    ) -> Result<ClaimDates> {
        let mut chosen: ClaimDates = primary
            .iter()
            .map(|&i| (i, self.truth(k, i).unwrap_or(self.persons[i].reg)))
            .collect();
        let need = target - primary.len();
        let others = scope.iter().copied().filter(|&i| {
            self.persons[i].claims_only && self.truth(k, i).is_none() && self.prerequisite_met(m, i)
        });
        let (cands, dates) = self.fillable(k, others, rng);
        let fill = weighted_pick(rng, &cands, need, |_| 1.0).ok_or_else(|| {
            self.ctx.infeasible(
                what,
                format!(
                    "{} claims from the MI and {} possible others cannot make {target}",
                    primary.len(),
                    cands.len()
                ),
            )
        })?;
        chosen.extend(fill.into_iter().map(|i| (i, dates[&i])));
        Ok(chosen)
    }

    /// Claims that were made but not validated: the surplus in `rejected`, then others up to
    /// the configured share of `target`.
    fn not_validated(
        &self,
        m: usize,
        k: Kind,
        scope: &[usize],
        target: usize,
        rejected: &mut ClaimDates,
        rng: &mut ChaCha8Rng,
    ) {
        let code = &self.ctx.study.milestones[m].code;
        let want = (self.ctx.cfg.claims.not_validated_share * target as f64).round() as usize;
        if rejected.len() >= want {
            return;
        }
        let claimed: std::collections::BTreeSet<usize> = self
            .validated
            .get(code)
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default();
        let others = scope.iter().copied().filter(|i| !claimed.contains(i));
        let (cands, dates) = self.fillable(k, others, rng);
        let n = (want - rejected.len()).min(cands.len());
        if let Some(extra) = weighted_pick(rng, &cands, n, |_| 1.0) {
            rejected.extend(extra.into_iter().map(|i| (i, dates[&i])));
        }
    }

    /// Of `candidates`, those who can have a claim of kind `k` the MI does not show, with its
    /// date (drawn in the candidates' order).
    fn fillable(
        &self,
        k: Kind,
        candidates: impl Iterator<Item = usize>,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<usize>, BTreeMap<usize, NaiveDate>) {
        let mut dates = BTreeMap::new();
        let cands = candidates
            .filter(|&i| match self.fill_date(k, i, rng) {
                Some(d) => {
                    dates.insert(i, d);
                    true
                }
                None => false,
            })
            .collect();
        (cands, dates)
    }

    /// Whether the person has a later milestone that needs this one.
    fn later(&self, k: Kind, i: usize) -> bool {
        match k {
            Kind::JobStart => self.truth(Kind::Sustained(0), i).is_some(),
            Kind::Sustained(s) if s < 2 => self.truth(Kind::Sustained(s + 1), i).is_some(),
            Kind::Embedded => self.truth(Kind::JobStart, i).is_some(),
            _ => false,
        }
    }

    fn push(
        &mut self,
        m: usize,
        i: usize,
        date: NaiveDate,
        status: &'static str,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        let ctx = self.ctx;
        let cutoff = self.cutoff(i);
        let [lo, hi] = ctx.cfg.claims.submission_lag_days;
        let submitted = add_days(date, rng.random_range(lo..=hi.max(lo)))
            .min(cutoff)
            .max(date);
        let ms = &ctx.study.milestones[m];
        let cohort = &ctx.cohort_codes[self.persons[i].cohort];
        let amount = match ms.payment_gbp.get(cohort) {
            Some(a) => *a as f64,
            None => {
                let table = ctx.cfg.claims.synthetic_amount_gbp.get(&ms.code);
                table
                    .and_then(|t| t.get(cohort).or_else(|| t.get("default")))
                    .copied()
                    .ok_or_else(|| {
                        ctx.config_err(format!(
                            "[claims.synthetic_amount_gbp] has no amount for {} {cohort}",
                            ms.code
                        ))
                    })?
            }
        };
        self.claims.push(Claim {
            person: i,
            milestone: m,
            date,
            submitted,
            amount,
            status,
            claim_ref: String::new(),
        });
        Ok(())
    }
}
