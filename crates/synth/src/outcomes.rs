//! Programme outcomes in the MI: embedding, job starts, sustainment, in-work progression
//! (report 2.2–2.3, Tables ).
//!
//! Outcomes come after, and from, the participants' characteristics. Embedding is an exact
//! weighted sample per cohort. Job starts, 13-week sustainment and in-work progression are chosen
//! by [`crate::calibrate`]: a latent logistic model (`odds_ratios` in `twin.toml`) raked to every
//! published rate by characteristic (Tables, Figure 2.3), then an exact selection
//! that puts each published cell's count inside the window of counts that round to the printed
//! percentage. 26- and 52-week sustainment and the progressions of out-of-work participants
//! (not published by characteristic) take exactly their share by latent propensity. Dates then
//! follow the contract's order: embedded after registration, job start after embedding,
//! sustainment 13/26/52 weeks after the job start, nothing after the extract date.

use chrono::{Days, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};

use crate::alloc::{weighted_index, weighted_pick};
use crate::calibrate::{CountTarget, Spec, logistic, model_cells, select};
use crate::config::Weights;
use crate::person::{Ctx, Person};
use crate::{Error, Result, stream};

/// Sustainment columns and their minimum weeks after the job start, from the dictionary.
pub(crate) fn sustainment_weeks(ctx: &Ctx) -> Result<[u32; 3]> {
    let mut out = [0; 3];
    for (k, col) in SUSTAINED.iter().enumerate() {
        out[k] = ctx
            .study
            .mi
            .column(col)
            .and_then(|c| c.min_weeks_after.as_ref())
            .map(|m| m.weeks)
            .ok_or_else(|| {
                ctx.config_err(format!(
                    "the MI dictionary's `{col}` has no min_weeks_after rule"
                ))
            })?;
    }
    Ok(out)
}

/// The three sustainment columns, in order.
pub(crate) const SUSTAINED: [&str; 3] = [
    "sustained_13_date",
    "sustained_26_date",
    "sustained_52_date",
];

/// Generates embedding, job starts, sustainment and progression.
pub(crate) fn generate(ctx: &mut Ctx, persons: &mut [Person], seed: u64) -> Result<()> {
    embedding(ctx, persons, &mut stream(seed, "outcome:embedding"))?;
    ctx.generated.insert("embedded_date".into());
    job_starts(ctx, persons, &mut stream(seed, "outcome:job_start"))?;
    ctx.generated.insert("job_start_date".into());
    sustainment(ctx, persons, &mut stream(seed, "outcome:sustainment"))?;
    progression(ctx, persons, &mut stream(seed, "outcome:progression"))?;
    Ok(())
}

/// A uniform date in `[from + lo, from + hi]` days, capped at `latest`; `None` if even the
/// earliest is after `latest`.
pub(crate) fn date_after(
    rng: &mut ChaCha8Rng,
    from: NaiveDate,
    [lo, hi]: [i64; 2],
    latest: NaiveDate,
) -> Option<NaiveDate> {
    let earliest = add_days(from, lo);
    if earliest > latest {
        return None;
    }
    let hi = hi.max(lo).min((latest - from).num_days());
    Some(add_days(from, rng.random_range(lo..=hi)))
}

pub(crate) fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n as u64)).unwrap_or(d)
    } else {
        d.checked_sub_days(Days::new(n.unsigned_abs())).unwrap_or(d)
    }
}

/// Chooses exactly `k` of `pool` with the highest latent propensity `score + logistic noise`.
fn top_k(
    pool: &[usize],
    k: usize,
    mut score: impl FnMut(usize) -> f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = pool
        .iter()
        .map(|&i| (score(i) + logistic(rng), i))
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = keyed.into_iter().take(k).map(|x| x.1).collect();
    chosen.sort();
    chosen
}

fn embedding(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.embedding;
    ctx.check_weights("[embedding.weights]", &cfg.weights)?;
    ctx.check_weights("[embedding.weights_in_work]", &cfg.weights_in_work)?;
    // Exact counts per cohort, chosen by the weights (relative odds). The out-of-work cohorts are
    // chosen together, so that every group the job outcome and sustainment rates are published
    // for ends up with a number of embedded participants those rates can be printed of (Table
    // A-23's 39% of the embedded aged 55+, then 63% of their job starters, need a base that
    // allows both); likewise the in-work cohort for the progression rates.
    for out_of_work in [true, false] {
        let codes: Vec<(usize, &String)> = ctx
            .cohort_codes
            .iter()
            .enumerate()
            .filter(|(c, _)| ctx.study.cohorts[*c].out_of_work == out_of_work)
            .collect();
        let days = cfg.days(out_of_work);
        let mut counts = Vec::new();
        for (_, code) in &codes {
            let k = *cfg
                .participants
                .get(*code)
                .ok_or_else(|| ctx.config_err(format!("[embedding] participants has no {code}")))?;
            counts.push(CountTarget {
                dim: "cohort",
                value: code.as_str(),
                count: k,
            });
        }
        let at_risk: Vec<usize> = (0..persons.len())
            .filter(|i| {
                let p = &persons[*i];
                codes.iter().any(|(c, _)| *c == p.cohort) && add_days(p.reg, days[0]) <= ctx.latest
            })
            .collect();
        let then: Vec<&crate::config::Rates> = if out_of_work {
            vec![&ctx.cfg.job_start.rates, &ctx.cfg.sustainment.rates_13]
        } else {
            vec![&ctx.cfg.progression.rates]
        };
        let empty = crate::config::Rates::new();
        let spec = Spec {
            what: "[embedding]",
            base: &at_risk,
            pool: &at_risk,
            total: Some(counts.iter().map(|c| c.count).sum()),
            rates: &empty,
            counts: &counts,
            then: &then,
            cells: &[],
            fit: None,
        };
        let weights = if out_of_work {
            &cfg.weights
        } else {
            &cfg.weights_in_work
        };
        let chosen = select(
            ctx,
            persons,
            &spec,
            |i| ctx.log_odds(&persons[i], weights),
            rng,
        )?;
        for i in chosen {
            persons[i].embedded = date_after(rng, persons[i].reg, days, ctx.latest);
        }
    }
    let extra = Poisson::new(cfg.extra_interventions_mean.max(1e-9))
        .map_err(|e| ctx.config_err(format!("[embedding] extra_interventions_mean: {e}")))?;
    for p in persons.iter_mut() {
        let min = if ctx.study.cohorts[p.cohort].out_of_work {
            cfg.min_interventions_out_of_work
        } else {
            cfg.min_interventions_in_work
        };
        let n = if p.embedded.is_some() {
            min + extra.sample(rng) as u32
        } else {
            rng.random_range(0..min.max(1))
        };
        p.interventions = if rng.random::<f64>() < cfg.interventions_missing_share {
            None
        } else {
            Some(n)
        };
    }
    Ok(())
}

fn job_starts(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.job_start;
    ctx.check_weights("[job_start.odds_ratios]", &cfg.odds_ratios)?;
    let pool: Vec<usize> = (0..persons.len())
        .filter(|i| persons[*i].embedded.is_some() && ctx.out_of_work(&persons[*i]))
        .collect();
    let counts = [CountTarget {
        dim: "complete_sample",
        value: "Y",
        count: cfg.in_complete_sample,
    }];
    // Table A-24's sample: every out-of-work participant of the models' samples with every
    // covariate recorded, embedded or not.
    let sample: Vec<usize> = (0..persons.len())
        .filter(|i| persons[*i].must_record && ctx.out_of_work(&persons[*i]))
        .collect();
    let (model, fit) = model_cells(ctx, persons, "[job_start.model]", &sample, &cfg.model)?;
    let spec = Spec {
        what: "[job_start]",
        base: &pool,
        pool: &pool,
        total: Some(cfg.participants),
        rates: &cfg.rates,
        counts: &counts,
        then: &[&ctx.cfg.sustainment.rates_13],
        cells: &model,
        fit: Some(&fit),
    };
    let chosen = select(
        ctx,
        persons,
        &spec,
        |i| {
            let p = &persons[i];
            let follow_up = p.embedded.map(|e| (ctx.latest - e).num_days()).unwrap_or(0) as f64;
            let exposure = (follow_up / cfg.exposure_days).clamp(0.02, 1.0).ln();
            ctx.log_odds(p, &cfg.odds_ratios) + exposure
        },
        rng,
    )?;
    let [shape, scale] = cfg.delay_gamma;
    let delay = Gamma::new(shape, scale)
        .map_err(|e| ctx.config_err(format!("[job_start] delay_gamma: {e}")))?;
    for i in chosen {
        let Some(emb) = persons[i].embedded else {
            continue;
        };
        let room = (ctx.latest - emb).num_days();
        let mut js = None;
        for _ in 0..20 {
            let d = delay.sample(rng).round() as i64;
            if d <= room {
                js = Some(add_days(emb, d.max(0)));
                break;
            }
        }
        let mut js = js.unwrap_or_else(|| add_days(emb, rng.random_range(0..=room.max(0))));
        if let Some(def) = &cfg.lockdown_deferral
            && js >= def.from
            && js <= def.to
            && rng.random::<f64>() < def.probability
        {
            let later = add_days(js, rng.random_range(def.days[0]..=def.days[1]));
            if later <= ctx.latest {
                js = later;
            }
        }
        persons[i].job_start = Some(js);
    }
    Ok(())
}

fn sustainment(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.sustainment;
    ctx.check_weights("[sustainment.odds_ratios_13]", &cfg.odds_ratios_13)?;
    let weeks = sustainment_weeks(ctx)?;
    let shares = [0.0, cfg.share_26_of_13, cfg.share_52_of_26];
    let empty = Weights::new();
    let starters: Vec<usize> = (0..persons.len())
        .filter(|i| persons[*i].job_start.is_some())
        .collect();
    for k in 0..3 {
        let min_days = i64::from(weeks[k]) * 7;
        let pool: Vec<usize> = (0..persons.len())
            .filter(|i| {
                let p = &persons[*i];
                let prev_ok = k == 0 || p.sustained[k - 1].is_some();
                p.job_start
                    .is_some_and(|js| prev_ok && add_days(js, min_days) <= ctx.latest)
            })
            .collect();
        let chosen = if k == 0 {
            // 13 weeks: the published rates are of every job starter, those whose 13 weeks are
            // not over by the extract date included.
            // Table A-31's sample: the job starters of Table A-24's.
            let sample: Vec<usize> = starters
                .iter()
                .copied()
                .filter(|i| persons[*i].must_record && ctx.out_of_work(&persons[*i]))
                .collect();
            let (model, fit) = model_cells(
                ctx,
                persons,
                "[sustainment.model_13]",
                &sample,
                &cfg.model_13,
            )?;
            let spec = Spec {
                what: "[sustainment] rates_13",
                base: &starters,
                pool: &pool,
                total: None,
                rates: &cfg.rates_13,
                counts: &[],
                then: &[],
                cells: &model,
                fit: Some(&fit),
            };
            select(
                ctx,
                persons,
                &spec,
                |i| ctx.log_odds(&persons[i], &cfg.odds_ratios_13),
                rng,
            )?
        } else {
            let n = (shares[k] * pool.len() as f64).round() as usize;
            top_k(&pool, n, |i| ctx.log_odds(&persons[i], &empty), rng)
        };
        for i in chosen {
            let Some(js) = persons[i].job_start else {
                continue;
            };
            let d = date_after(rng, add_days(js, min_days), cfg.jitter_days, ctx.latest);
            persons[i].sustained[k] = d;
        }
    }
    Ok(())
}

fn progression(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    ctx.check_weights(
        "[progression.odds_ratios]",
        &ctx.cfg.progression.odds_ratios,
    )?;
    in_work_progressions(ctx, persons, rng)?;
    out_of_work_progressions(ctx, persons, rng);
    employer_in_work(ctx, persons, rng)?;
    employer_out_of_work(ctx, persons, rng)
}

/// In work at registration: embedded participants, progressing some months after embedding,
/// selected to Table A-39's model and the published rates.
fn in_work_progressions(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.progression;
    let employed: Vec<usize> = (0..persons.len())
        .filter(|i| {
            let p = &persons[*i];
            !ctx.out_of_work(p)
                && p.embedded
                    .is_some_and(|e| add_days(e, cfg.days_after_embedding[0]) <= ctx.latest)
        })
        .collect();
    let all_employed: Vec<usize> = (0..persons.len())
        .filter(|i| !ctx.out_of_work(&persons[*i]) && persons[*i].embedded.is_some())
        .collect();
    // Table A-39's sample: the in-work participants of the models' samples with every
    // covariate recorded, embedded or not.
    let sample: Vec<usize> = (0..persons.len())
        .filter(|i| persons[*i].must_record && !ctx.out_of_work(&persons[*i]))
        .collect();
    let (model, fit) = model_cells(ctx, persons, "[progression.model]", &sample, &cfg.model)?;
    let spec = Spec {
        what: "[progression]",
        base: &all_employed,
        pool: &employed,
        total: Some(cfg.participants),
        rates: &cfg.rates,
        counts: &[],
        then: &[],
        cells: &model,
        fit: Some(&fit),
    };
    let chosen = select(
        ctx,
        persons,
        &spec,
        |i| ctx.log_odds(&persons[i], &cfg.odds_ratios),
        rng,
    )?;
    for i in chosen {
        let Some(e) = persons[i].embedded else {
            continue;
        };
        persons[i].progression = date_after(rng, e, cfg.days_after_embedding, ctx.latest);
    }
    Ok(())
}

/// Out of work at registration: job starters who sustained 13 weeks, progressing in the job, a
/// fixed share of them by latent propensity (not published by characteristic).
fn out_of_work_progressions(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) {
    let cfg = &ctx.cfg.progression;
    let sustained: Vec<usize> = (0..persons.len())
        .filter(|i| {
            let p = &persons[*i];
            p.sustained[0].is_some()
                && p.job_start
                    .is_some_and(|j| add_days(j, cfg.days_after_job_start[0]) <= ctx.latest)
        })
        .collect();
    let k = (cfg.share_of_sustained_out_of_work * sustained.len() as f64).round() as usize;
    for i in top_k(
        &sustained,
        k,
        |i| ctx.log_odds(&persons[i], &cfg.odds_ratios),
        rng,
    ) {
        let Some(j) = persons[i].job_start else {
            continue;
        };
        persons[i].progression = date_after(rng, j, cfg.days_after_job_start, ctx.latest);
    }
}

/// Same or different employer, where recorded, for the in-work cohort: exact counts (report
/// 4.5.1).
fn employer_in_work(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.progression;
    let in_work: Vec<usize> = (0..persons.len())
        .filter(|i| !ctx.out_of_work(&persons[*i]) && persons[*i].progression.is_some())
        .collect();
    // A lot that records only one code (report 4.5.1: two providers only same-employer, two
    // only different-employer progressions) gets at least one of it and none of the others.
    let only = &cfg.employer_only_lots;
    let lot_of: Vec<usize> = persons.iter().map(|p| p.lot).collect();
    let reserved_for = |i: usize| {
        let lot = &ctx.lot_codes[lot_of[i]];
        only.iter()
            .find(|(_, lots)| lots.contains(lot))
            .map(|(c, _)| c)
    };
    let mut left = in_work;
    for (code, n) in &cfg.employer_in_work {
        let what = "[progression] employer_in_work";
        let allowed: Vec<usize> = left
            .iter()
            .copied()
            .filter(|i| reserved_for(*i).is_none_or(|c| c == code))
            .collect();
        let mut chosen: Vec<usize> = Vec::new();
        for lot in only.get(code).into_iter().flatten() {
            let of_lot: Vec<usize> = allowed
                .iter()
                .copied()
                .filter(|i| &ctx.lot_codes[lot_of[*i]] == lot)
                .collect();
            let first = weighted_pick(rng, &of_lot, 1, |_| 1.0).ok_or_else(|| {
                ctx.infeasible(
                    "[progression] employer_only_lots",
                    format!("lot {lot} has no in-work progression to record as `{code}`"),
                )
            })?;
            chosen.extend(first);
        }
        let rest: Vec<usize> = allowed
            .iter()
            .copied()
            .filter(|i| !chosen.contains(i))
            .collect();
        let more = n
            .checked_sub(chosen.len())
            .and_then(|k| weighted_pick(rng, &rest, k, |_| 1.0));
        chosen.extend(more.ok_or_else(|| {
            ctx.infeasible(
                what,
                format!("fewer than {n} in-work progressions left for `{code}`"),
            )
        })?);
        let set: std::collections::BTreeSet<usize> = chosen.iter().copied().collect();
        for &i in &chosen {
            persons[i].progression_employer = Some(code.clone());
        }
        left.retain(|i| !set.contains(i));
    }
    Ok(())
}

/// Same or different employer for the out-of-work cohorts' progressions: shares.
fn employer_out_of_work(ctx: &Ctx, persons: &mut [Person], rng: &mut ChaCha8Rng) -> Result<()> {
    let cfg = &ctx.cfg.progression;
    let codes: Vec<(&String, &f64)> = cfg.employer_share.iter().collect();
    let mut w: Vec<f64> = codes.iter().map(|c| *c.1).collect();
    let rest = 1.0 - w.iter().sum::<f64>();
    if rest < -1e-9 {
        return Err(ctx.config_err("[progression] employer_share sums to more than 1"));
    }
    w.push(rest.max(0.0));
    for p in persons
        .iter_mut()
        .filter(|p| p.progression.is_some() && ctx.out_of_work(p))
    {
        let k = weighted_index(rng, &w).ok_or_else(|| Error::Internal {
            message: "empty employer_share".into(),
        })?;
        p.progression_employer = codes.get(k).map(|c| c.0.clone());
    }
    Ok(())
}
