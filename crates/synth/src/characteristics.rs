//! Participant characteristics: the single-valued MI columns, generated in the dictionary's column
//! order (report 2.2, Tables ).
//!
//! Each column follows the same recipe: who may have a value (the dictionary's `applies_when`),
//! who has one (exactly the report's N, the rest blank, blanks likelier where `missing_weight`
//! says), which value (exact counts from the published shares, given to participants by weighted
//! sampling so that cohort, lot, age… correlate), and a latent value for the blanks, copied from a
//! random donor of the same cohort, for the outcome models.

use chrono::{Days, Months, NaiveDate};
use evalpipe_study::{Code, ColumnSpec};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::alloc::{largest_remainder, weighted_index, weighted_pick};
use crate::complete::blank_rule;
use crate::config::{CategoricalCfg, Weights};
use crate::person::{Ctx, Person, age_in_years};
use crate::{Error, Result, stream};

/// MI columns filled by other stages (identity, registration, outcomes).
pub(crate) const HANDLED_ELSEWHERE: [&str; 16] = [
    "provider_ref",
    "first_name",
    "surname",
    "postcode",
    "ni_number",
    "lot_code",
    "registration_date",
    "payment_group",
    "meaningful_interventions",
    "embedded_date",
    "job_start_date",
    "sustained_13_date",
    "sustained_26_date",
    "sustained_52_date",
    "progression_date",
    "progression_employer",
];

/// Generates every characteristic column, in dictionary order.
pub(crate) fn generate(ctx: &mut Ctx, persons: &mut [Person], seed: u64) -> Result<()> {
    for pre in ["lot_code", "payment_group", "registration_date"] {
        ctx.generated.insert(pre.to_string());
    }
    let columns: Vec<String> = ctx
        .study
        .mi
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    for name in columns {
        let mut rng = stream(seed, &format!("column:{name}"));
        match name.as_str() {
            "date_of_birth" => age(ctx, persons, &mut rng)?,
            "ethnicity" => ethnicity(ctx, persons, &mut rng)?,
            "hours_per_week" => hours(ctx, persons, &mut rng)?,
            "weekly_earnings" => earnings(ctx, persons, &mut rng)?,
            n if ctx.cfg.categorical.contains_key(n) => categorical(ctx, persons, n, &mut rng)?,
            n if ctx.cfg.flag.contains_key(n) => flag(ctx, persons, n, &mut rng)?,
            n if HANDLED_ELSEWHERE.contains(&n) => {}
            n => {
                return Err(ctx.config_err(format!(
                    "MI column `{n}` has no generator: add [categorical.{n}] or [flag.{n}]"
                )));
            }
        }
        ctx.generated.insert(name);
    }
    Ok(())
}

/// Splits `eligible` into (recorded, blank) with exactly `n_recorded` recorded; blanks are
/// likelier where `missing` weighs more. For a model column (`[complete_cases]`), complete cases
/// are never blank and the incomplete cases assigned this column always are.
#[allow(clippy::too_many_arguments)]
pub(crate) fn split_recorded(
    ctx: &Ctx,
    persons: &[Person],
    eligible: &[usize],
    n_recorded: usize,
    missing: &Weights,
    column: &str,
    what: &str,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    ctx.check_weights(what, missing)?;
    if n_recorded > eligible.len() {
        return Err(ctx.infeasible(
            what,
            format!(
                "{n_recorded} participants should have a value but only {} may",
                eligible.len()
            ),
        ));
    }
    let n_blank = eligible.len() - n_recorded;
    let forced: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|i| blank_rule(ctx, &persons[*i], column) == Some(true))
        .collect();
    let free: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|i| blank_rule(ctx, &persons[*i], column).is_none())
        .collect();
    let more = n_blank.checked_sub(forced.len()).ok_or_else(|| {
        ctx.infeasible(what,
            format!(
                "{} incomplete cases ([complete_cases]) must be blank but only {n_blank} blanks are published",
                forced.len()
            ),
        )
    })?;
    let mut blank = weighted_pick(rng, &free, more, |i| ctx.weight(&persons[i], missing))
        .ok_or_else(|| {
            ctx.infeasible(
                what,
                format!(
                    "{more} more blanks needed but only {} participants outside the complete \
                     cases ([complete_cases]) may be blank",
                    free.len()
                ),
            )
        })?;
    blank.extend(forced);
    blank.sort();
    let blank_set: std::collections::BTreeSet<usize> = blank.iter().copied().collect();
    let recorded = eligible
        .iter()
        .copied()
        .filter(|i| !blank_set.contains(i))
        .collect();
    Ok((recorded, blank))
}

/// Gives each of `items` (count, weights) to exactly `count` of `cands`, in order; the last item
/// takes whoever is left. `barred(participant, item)` excludes a participant from an item (not
/// allowed for the last). Returns (participant, item index) pairs.
pub(crate) fn allocate(
    ctx: &Ctx,
    persons: &[Person],
    cands: &[usize],
    items: &[(usize, Option<&Weights>)],
    barred: &dyn Fn(usize, usize) -> bool,
    what: &str,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, usize)>> {
    let total: usize = items.iter().map(|x| x.0).sum();
    if total != cands.len() {
        return Err(Error::Internal {
            message: format!("{what}: {total} values for {} participants", cands.len()),
        });
    }
    let mut left: Vec<usize> = cands.to_vec();
    let mut out = Vec::with_capacity(cands.len());
    let empty = Weights::new();
    for (k, (count, w)) in items.iter().enumerate() {
        let w = w.unwrap_or(&empty);
        ctx.check_weights(what, w)?;
        let chosen = if k + 1 == items.len() {
            if left.iter().any(|i| barred(*i, k)) {
                return Err(ctx.infeasible(
                    what,
                    format!("the last value (#{k}) would go to a participant barred from it"),
                ));
            }
            left.clone()
        } else {
            weighted_pick(rng, &left, *count, |i| {
                if barred(i, k) {
                    0.0
                } else {
                    ctx.weight(&persons[i], w)
                }
            })
            .ok_or_else(|| {
                ctx.infeasible(
                    what,
                    format!("cannot give value #{k} to {count} participants"),
                )
            })?
        };
        let set: std::collections::BTreeSet<usize> = chosen.iter().copied().collect();
        left.retain(|i| !set.contains(i));
        out.extend(chosen.into_iter().map(|i| (i, k)));
    }
    Ok(out)
}

/// Picks a donor of the same cohort (or any donor) for a participant whose value is blank.
pub(crate) fn donor(
    persons: &[Person],
    donors: &[usize],
    who: usize,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let same: Vec<usize> = donors
        .iter()
        .copied()
        .filter(|d| persons[*d].cohort == persons[who].cohort)
        .collect();
    let pool = if same.is_empty() { donors } else { &same };
    if pool.is_empty() {
        None
    } else {
        Some(pool[rng.random_range(0..pool.len())])
    }
}

fn age(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.age;
    let all: Vec<usize> = (0..persons.len()).collect();
    let (recorded, blank) = split_recorded(
        ctx,
        persons,
        &all,
        cfg.recorded,
        &Weights::new(),
        "date_of_birth",
        "age",
        rng,
    )?;
    let shares: Vec<f64> = cfg.band.iter().map(|b| b.share).collect();
    let counts = largest_remainder(recorded.len(), &shares);
    let items: Vec<(usize, Option<&Weights>)> = counts
        .iter()
        .zip(&cfg.band)
        .map(|(n, b)| (*n, Some(&b.weights)))
        .collect();
    let mut band_of = vec![usize::MAX; persons.len()];
    for (i, b) in allocate(
        ctx,
        persons,
        &recorded,
        &items,
        &|_, _| false,
        "age band",
        rng,
    )? {
        band_of[i] = b;
    }
    for &i in &blank {
        let d = donor(persons, &recorded, i, rng)
            .ok_or_else(|| ctx.infeasible("age", "no participant has a date of birth".into()))?;
        band_of[i] = band_of[d];
    }
    for &i in &recorded {
        let band = &cfg.band[band_of[i]];
        let a = rng.random_range(band.from..=band.to);
        persons[i].age = Some(a);
        persons[i].dob = Some(date_of_birth(persons[i].reg, a, rng)?);
    }
    for &i in &blank {
        let band = &cfg.band[band_of[i]];
        persons[i].age = Some(rng.random_range(band.from..=band.to));
    }
    Ok(())
}

/// A date of birth giving exactly `age` whole years on `reg`.
fn date_of_birth(reg: NaiveDate, age: u32, rng: &mut ChaCha8Rng) -> Result<NaiveDate> {
    let hi = reg.checked_sub_months(Months::new(12 * age));
    let lo = reg
        .checked_sub_months(Months::new(12 * (age + 1)))
        .and_then(|d| d.checked_add_days(Days::new(1)));
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Err(Error::Internal {
            message: format!("no date of birth for age {age} at {reg}"),
        });
    };
    let span = (hi - lo).num_days().max(0) as u64;
    for _ in 0..8 {
        let d = lo + Days::new(rng.random_range(0..=span));
        if age_in_years(d, reg) == Some(i64::from(age)) {
            return Ok(d);
        }
    }
    // `hi` is the birthday itself (28 February for a 29 February registration): always exact.
    Ok(hi)
}

fn ethnicity(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.ethnicity;
    let all: Vec<usize> = (0..persons.len()).collect();
    let filled = cfg.recorded + cfg.prefer_not_to_say;
    let (filled, blank) = split_recorded(
        ctx,
        persons,
        &all,
        filled,
        &cfg.missing_weight,
        "ethnicity",
        "ethnicity",
        rng,
    )?;
    let x = weighted_pick(rng, &filled, cfg.prefer_not_to_say, |_| 1.0)
        .ok_or_else(|| ctx.infeasible("ethnicity", "too few for prefer_not_to_say".into()))?;
    for &i in &x {
        persons[i].values.insert("ethnicity".into(), "X".into());
    }
    let xs: std::collections::BTreeSet<usize> = x.iter().copied().collect();
    let recorded: Vec<usize> = filled.into_iter().filter(|i| !xs.contains(i)).collect();
    for (l, lot) in ctx.lot_codes.iter().enumerate() {
        let shares = cfg.group_share_by_lot.get(lot).ok_or_else(|| {
            ctx.config_err(format!("[ethnicity.group_share_by_lot] has no lot {lot}"))
        })?;
        let mut in_lot: Vec<usize> = recorded
            .iter()
            .copied()
            .filter(|i| persons[*i].lot == l)
            .collect();
        in_lot.shuffle(rng);
        let groups: Vec<(&String, &f64)> = shares.iter().collect();
        let counts = largest_remainder(
            in_lot.len(),
            &groups.iter().map(|g| *g.1).collect::<Vec<_>>(),
        );
        let mut at = 0;
        for ((group, _), n) in groups.iter().zip(counts) {
            let within = cfg.code_share_within_group.get(*group).ok_or_else(|| {
                ctx.config_err(format!(
                    "[ethnicity.code_share_within_group] has no group {group}"
                ))
            })?;
            let codes: Vec<(&String, &f64)> = within.iter().collect();
            let w: Vec<f64> = codes.iter().map(|c| *c.1).collect();
            for &i in &in_lot[at..at + n] {
                let k = weighted_index(rng, &w)
                    .ok_or_else(|| ctx.config_err(format!("no ethnicity code for {group}")))?;
                persons[i]
                    .values
                    .insert("ethnicity".into(), codes[k].0.clone());
                persons[i].ethnicity_latent = Some(codes[k].0.clone());
                persons[i].ethnic_group = Some((*group).clone());
            }
            at += n;
        }
    }
    // Blanks and prefer-not-to-say: a donor from the same lot (ethnicity is local).
    for i in blank.into_iter().chain(x) {
        let pool: Vec<usize> = recorded
            .iter()
            .copied()
            .filter(|d| persons[*d].lot == persons[i].lot)
            .collect();
        let pool = if pool.is_empty() { &recorded } else { &pool };
        if pool.is_empty() {
            continue;
        }
        let d = pool[rng.random_range(0..pool.len())];
        persons[i].ethnic_group = persons[d].ethnic_group.clone();
        persons[i].ethnicity_latent = persons[d].ethnicity_latent.clone();
    }
    Ok(())
}

/// An MI column's specification, the participants its rule lets have a value, and how many of
/// them have one: `recorded`, or `recorded_share` of the eligible (exactly one is configured).
fn recorded_among<'s>(
    ctx: &Ctx<'s>,
    persons: &[Person],
    name: &str,
    what: &str,
    recorded: Option<usize>,
    recorded_share: Option<f64>,
) -> Result<(&'s ColumnSpec, Vec<usize>, usize)> {
    let spec = ctx
        .study
        .mi
        .column(name)
        .ok_or_else(|| ctx.config_err(format!("{what}: not an MI column")))?;
    let eligible: Vec<usize> = (0..persons.len())
        .filter(|i| ctx.applies(&persons[*i], spec.applies_when.as_ref()))
        .collect();
    let n_rec = match (recorded, recorded_share) {
        (Some(n), None) => n,
        (None, Some(s)) => (s * eligible.len() as f64).round() as usize,
        _ => {
            return Err(ctx.config_err(format!(
                "{what}: give exactly one of `recorded` and `recorded_share`"
            )));
        }
    };
    Ok((spec, eligible, n_rec))
}

fn categorical(ctx: &Ctx, persons: &mut [Person], name: &str, rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.categorical[name];
    let what = format!("[categorical.{name}]");
    let (spec, eligible, n_rec) =
        recorded_among(ctx, persons, name, &what, cfg.recorded, cfg.recorded_share)?;
    let list = ctx.study.code_list(spec.codes.as_deref().unwrap_or(""));
    let n_extra: usize = cfg.extra.values().sum();
    let (filled, _blank) = split_recorded(
        ctx,
        persons,
        &eligible,
        n_rec + n_extra,
        &cfg.missing_weight,
        name,
        &what,
        rng,
    )?;
    // Codes that carry a report grouping are substantive; the others (prefer not to say, level
    // unknown) are outside the models' categories, so complete cases never get them.
    let any_group = list.iter().any(|c| !c.group.is_empty());
    let substantive =
        |code: &str| !any_group || list.iter().any(|c| c.code == code && !c.group.is_empty());
    let protected_flags: Vec<bool> = persons
        .iter()
        .map(|p| blank_rule(ctx, p, name) == Some(false))
        .collect();
    let protected = |i: usize| protected_flags[i];
    let mut left = filled;
    for (code, n) in &cfg.extra {
        let chosen = weighted_pick(rng, &left, *n, |i| {
            if protected(i) && !substantive(code) {
                0.0
            } else {
                1.0
            }
        })
        .ok_or_else(|| ctx.infeasible(&what, format!("too few for {n} `{code}`")))?;
        let set: std::collections::BTreeSet<usize> = chosen.iter().copied().collect();
        for &i in &chosen {
            persons[i].values.insert(name.to_string(), code.clone());
        }
        left.retain(|i| !set.contains(i));
    }
    let order = share_order(ctx, cfg, list, &what)?;
    let shares: Vec<f64> = order.iter().map(|c| cfg.shares[c]).collect();
    let counts = largest_remainder(left.len(), &shares);
    let items: Vec<(usize, Option<&Weights>)> = counts
        .iter()
        .zip(&order)
        .map(|(n, c)| (*n, cfg.weights.get(c)))
        .collect();
    let barred = |i: usize, k: usize| protected(i) && !substantive(&order[k]);
    for (i, k) in allocate(ctx, persons, &left, &items, &barred, &what, rng)? {
        persons[i].values.insert(name.to_string(), order[k].clone());
    }
    latent_from_donors(persons, &eligible, name, substantive, rng);
    Ok(())
}

/// The order in which the codes of `shares` are allocated: `order`, or the code list's.
fn share_order(ctx: &Ctx, cfg: &CategoricalCfg, list: &[Code], what: &str) -> Result<Vec<String>> {
    let order: Vec<String> = if cfg.order.is_empty() {
        list.iter()
            .map(|c| c.code.clone())
            .filter(|c| cfg.shares.contains_key(c))
            .collect()
    } else {
        cfg.order.clone()
    };
    let mut sorted_order = order.clone();
    sorted_order.sort();
    if sorted_order != cfg.shares.keys().cloned().collect::<Vec<_>>() {
        return Err(ctx.config_err(format!(
            "{what}: `order` must list each code of `shares` once"
        )));
    }
    Ok(order)
}

/// Latent values for the outcome models: a substantive code is its own; non-substantive codes
/// and blanks take a donor's of the same cohort.
fn latent_from_donors(
    persons: &mut [Person],
    eligible: &[usize],
    name: &str,
    substantive: impl Fn(&str) -> bool,
    rng: &mut ChaCha8Rng,
) {
    let donors: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|i| persons[*i].values.get(name).is_some_and(|v| substantive(v)))
        .collect();
    for &i in eligible {
        let own = persons[i]
            .values
            .get(name)
            .filter(|v| substantive(v))
            .cloned();
        let value = match own {
            Some(v) => Some(v),
            None => {
                donor(persons, &donors, i, rng).and_then(|d| persons[d].values.get(name).cloned())
            }
        };
        if let Some(v) = value {
            persons[i].latent.insert(name.to_string(), v);
        }
    }
}

fn flag(ctx: &Ctx, persons: &mut [Person], name: &str, rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.flag[name];
    let what = format!("[flag.{name}]");
    let (_, eligible, n_rec) =
        recorded_among(ctx, persons, name, &what, cfg.recorded, cfg.recorded_share)?;
    let (recorded, blank) = split_recorded(
        ctx,
        persons,
        &eligible,
        n_rec,
        &cfg.missing_weight,
        name,
        &what,
        rng,
    )?;
    let yes_n = (cfg.yes_share * recorded.len() as f64).round() as usize;
    ctx.check_weights(&what, &cfg.yes_weights)?;
    let yes = weighted_pick(rng, &recorded, yes_n, |i| {
        ctx.weight(&persons[i], &cfg.yes_weights)
    })
    .ok_or_else(|| ctx.infeasible(&what, format!("cannot choose {yes_n} with Y")))?;
    let yes: std::collections::BTreeSet<usize> = yes.into_iter().collect();
    for &i in &recorded {
        let v = if yes.contains(&i) { "Y" } else { "N" };
        persons[i].values.insert(name.to_string(), v.into());
        persons[i].latent.insert(name.to_string(), v.into());
    }
    for &i in &blank {
        if let Some(d) = donor(persons, &recorded, i, rng) {
            let v = persons[d].values[name].clone();
            persons[i].latent.insert(name.to_string(), v);
        }
    }
    Ok(())
}

fn hours(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.employment;
    let spec = ctx.study.mi.column("hours_per_week");
    let eligible: Vec<usize> = (0..persons.len())
        .filter(|i| ctx.applies(&persons[*i], spec.and_then(|s| s.applies_when.as_ref())))
        .collect();
    let (recorded, blank) = split_recorded(
        ctx,
        persons,
        &eligible,
        cfg.hours_recorded,
        &cfg.missing_weight,
        "hours_per_week",
        "[employment] hours",
        rng,
    )?;
    let shares: Vec<f64> = cfg.hours_band.iter().map(|b| b.share).collect();
    let counts = largest_remainder(recorded.len(), &shares);
    let items: Vec<(usize, Option<&Weights>)> = counts.iter().map(|n| (*n, None)).collect();
    for (i, b) in allocate(
        ctx,
        persons,
        &recorded,
        &items,
        &|_, _| false,
        "[employment] hours",
        rng,
    )? {
        let values = &cfg.hours_band[b].values;
        if values.is_empty() {
            return Err(ctx.config_err("[employment.hours_band]: `values` is empty"));
        }
        let h = values[rng.random_range(0..values.len())];
        persons[i].hours = Some(h);
        persons[i].hours_latent = Some(h);
        persons[i].hours_band = Some(b);
    }
    for &i in &blank {
        if let Some(d) = donor(persons, &recorded, i, rng) {
            let b = persons[d].hours_band.unwrap_or(0);
            let values = &cfg.hours_band[b].values;
            persons[i].hours_band = Some(b);
            persons[i].hours_latent = Some(values[rng.random_range(0..values.len())]);
        }
    }
    Ok(())
}

fn earnings(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.employment;
    let spec = ctx.study.mi.column("weekly_earnings");
    let eligible: Vec<usize> = (0..persons.len())
        .filter(|i| ctx.applies(&persons[*i], spec.and_then(|s| s.applies_when.as_ref())))
        .collect();
    let recorded = weighted_pick(rng, &eligible, cfg.earnings_recorded, |i| {
        if persons[i].hours.is_some() {
            cfg.earnings_with_hours_weight
        } else {
            1.0
        }
    })
    .ok_or_else(|| {
        ctx.infeasible(
            "[employment] earnings",
            "too few in-work participants".into(),
        )
    })?;
    let [lo, hi] = cfg.hourly_pay_gbp;
    let mut pay: Vec<(f64, usize)> = recorded
        .iter()
        .map(|&i| {
            let h = persons[i].hours_latent.unwrap_or(16.0);
            (h * rng.random_range(lo..=hi), i)
        })
        .collect();
    pay.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let shares: Vec<f64> = cfg.earnings_band.iter().map(|b| b.share).collect();
    let counts = largest_remainder(pay.len(), &shares);
    let mut at = 0;
    for (band, n) in cfg.earnings_band.iter().zip(counts) {
        for &(latent, i) in &pay[at..at + n] {
            let v = if (band.min..=band.max).contains(&latent) {
                latent
            } else {
                rng.random_range(band.min..=band.max)
            };
            persons[i].earnings = Some((v * 100.0).round() / 100.0);
        }
        at += n;
    }
    Ok(())
}
