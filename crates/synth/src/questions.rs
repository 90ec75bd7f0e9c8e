//! Multi-select questions: how participants heard of the programme, health condition types,
//! barriers, agreed and completed actions (report 4.2.2, 4.2.4, 4.3; Tables 4-1 to 4-3, A-12, A-46).
//!
//! A participant with data answers every option Y or N; one without has every option blank. The
//! number of Y per option is exact; which participants say Y is a weighted sample, so options
//! follow cohort, lot, period and earlier answers. Where the report publishes an option's share
//! by cohort, lot or period (Tables ), the option is chosen as an outcome is
//! ([`crate::calibrate`]): the weights are a latent propensity, raked and selected so that every
//! published share rounds as printed; moves that give everyone with data at least one answer
//! never take a share outside its window.

use std::collections::BTreeSet;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::alloc::{weighted_index, weighted_pick};
use crate::calibrate::{self, Spec, Window};
use crate::characteristics::split_recorded;
use crate::config::{QuestionCfg, Weights};
use crate::person::{Ctx, Person};
use crate::{Error, Result, stream};

/// Relative chance of an option for a participant with no Y yet, when `ensure_one` is set.
const UNCOVERED_BOOST: f64 = 3.0;

/// Generates every question of the dictionary, in its order.
pub(crate) fn generate(ctx: &mut Ctx, persons: &mut [Person], seed: u64) -> Result<()> {
    let ids: Vec<String> = ctx
        .study
        .mi
        .questions
        .iter()
        .map(|q| q.id.clone())
        .collect();
    for id in ids {
        let mut rng = stream(seed, &format!("question:{id}"));
        question(ctx, persons, &id, &mut rng)?;
        ctx.generated.insert(id);
    }
    Ok(())
}

fn question(ctx: &mut Ctx, persons: &mut [Person], id: &str, rng: &mut ChaCha8Rng) -> Result<()> {
    let what = format!("[questions.{id}]");
    let cfg: &QuestionCfg = ctx
        .cfg
        .questions
        .get(id)
        .ok_or_else(|| ctx.config_err(format!("MI question `{id}` has no {what}")))?;
    let spec = ctx
        .study
        .mi
        .questions
        .iter()
        .find(|q| q.id == id)
        .ok_or_else(|| Error::Internal {
            message: format!("question {id} vanished"),
        })?;
    let options: Vec<String> = ctx.questions[id].1.clone();
    // The answers are built in place, so a weight may refer to an earlier option of the same
    // question (e.g. depression given anxiety).
    ctx.generated.insert(id.to_string());

    let recorded: Vec<usize> = if let Some(f) = &cfg.follows {
        if !ctx.questions.contains_key(f) || !ctx.generated.contains(f) || f == id {
            return Err(ctx.config_err(format!(
                "{what}: follows `{f}`, which is not an earlier question"
            )));
        }
        (0..persons.len())
            .filter(|i| persons[*i].answers.contains_key(f))
            .collect()
    } else {
        let eligible: Vec<usize> = (0..persons.len())
            .filter(|i| ctx.applies(&persons[*i], spec.applies_when.as_ref()))
            .collect();
        let n = cfg
            .recorded
            .ok_or_else(|| ctx.config_err(format!("{what}: needs `recorded` or `follows`")))?;
        split_recorded(
            ctx,
            persons,
            &eligible,
            n,
            &cfg.missing_weight,
            id,
            &what,
            rng,
        )?
        .0
    };
    for &i in &recorded {
        persons[i]
            .answers
            .insert(id.to_string(), vec![false; options.len()]);
    }

    let index = |code: &str| options.iter().position(|o| o == code);
    for code in cfg.rates.keys() {
        if index(code).is_none() {
            return Err(ctx.config_err(format!("{what}: rates of unknown option `{code}`")));
        }
    }
    // Windows of the published shares, by option: ensure_one may not move an answer out of one.
    let mut guards: Vec<Vec<Window>> = (0..options.len()).map(|_| Vec::new()).collect();
    let mut grouped = BTreeSet::new();
    let empty = Weights::new();
    for g in &cfg.group {
        ctx.check_weights(&what, &g.weights)?;
        let idx: Vec<usize> = g
            .options
            .iter()
            .map(|o| {
                index(o).ok_or_else(|| ctx.config_err(format!("{what}: unknown option `{o}`")))
            })
            .collect::<Result<_>>()?;
        grouped.extend(idx.iter().copied());
        let chosen = if g.rates.is_empty() {
            weighted_pick(rng, &recorded, g.participants, |i| {
                ctx.weight(&persons[i], &g.weights)
            })
            .ok_or_else(|| {
                ctx.infeasible(&what, format!("too few for a group of {}", g.participants))
            })?
        } else {
            let label = format!("{what} group {:?}", g.options);
            calibrate::select(
                ctx,
                persons,
                &Spec {
                    what: &label,
                    base: &recorded,
                    pool: &recorded,
                    total: Some(g.participants),
                    rates: &g.rates,
                    counts: &[],
                    then: &[],
                    cells: &[],
                    fit: None,
                },
                |i| ctx.weight(&persons[i], &g.weights).ln(),
                rng,
            )?
        };
        for i in chosen {
            let w: Vec<f64> = idx
                .iter()
                .map(|&o| ctx.weight(&persons[i], cfg.weights.get(&options[o]).unwrap_or(&empty)))
                .collect();
            let first = weighted_index(rng, &w).unwrap_or(0);
            if let Some(a) = persons[i].answers.get_mut(id) {
                a[idx[first]] = true;
            }
            if idx.len() > 1 && rng.random::<f64>() < g.second_option_share {
                let mut w2 = w.clone();
                w2[first] = 0.0;
                if let Some(second) = weighted_index(rng, &w2)
                    && let Some(a) = persons[i].answers.get_mut(id)
                {
                    a[idx[second]] = true;
                }
            }
        }
    }

    for (o, code) in options.iter().enumerate() {
        if grouped.contains(&o) {
            continue;
        }
        let k = if let Some(f) = &cfg.follows {
            let (_, fopts) = &ctx.questions[f];
            let fo = fopts.iter().position(|x| x == code).ok_or_else(|| {
                ctx.config_err(format!("{what}: option `{code}` is not an option of `{f}`"))
            })?;
            let base = recorded
                .iter()
                .filter(|i| persons[**i].answers[f][fo])
                .count();
            let ratio = cfg
                .ratio
                .get(code)
                .copied()
                .or(cfg.default_ratio)
                .ok_or_else(|| ctx.config_err(format!("{what}: no ratio for `{code}`")))?;
            ((base as f64 * ratio).round() as usize).min(recorded.len())
        } else if let Some(n) = cfg.counts.get(code) {
            *n
        } else if let Some(s) = cfg.shares.get(code) {
            (s * recorded.len() as f64).round() as usize
        } else {
            return Err(ctx.config_err(format!(
                "{what}: option `{code}` has no count, share or group"
            )));
        };
        let w = cfg.weights.get(code).unwrap_or(&empty);
        ctx.check_weights(&what, w)?;
        let followed = cfg.follows.as_ref().map(|f| {
            let fo = ctx.questions[f]
                .1
                .iter()
                .position(|x| x == code)
                .unwrap_or(0);
            (f.clone(), fo)
        });
        let fw = cfg.followed_weight.unwrap_or(1.0);
        let propensity = |i: usize| {
            let p = &persons[i];
            let mut x = ctx.weight(p, w);
            if cfg.ensure_one && !p.answers[id].iter().any(|y| *y) {
                x *= UNCOVERED_BOOST;
            }
            if let Some((f, fo)) = &followed
                && p.answers[f][*fo]
            {
                x *= fw;
            }
            x
        };
        let chosen = if let Some(rates) = cfg.rates.get(code) {
            // Nobody with a zero weight can have the option, whatever the shares need.
            let pool: Vec<usize> = recorded
                .iter()
                .copied()
                .filter(|i| propensity(*i) > 0.0)
                .collect();
            let label = format!("{what} option `{code}`");
            let chosen = calibrate::select(
                ctx,
                persons,
                &Spec {
                    what: &label,
                    base: &recorded,
                    pool: &pool,
                    total: Some(k),
                    rates,
                    counts: &[],
                    then: &[],
                    cells: &[],
                    fit: None,
                },
                |i| propensity(i).ln(),
                rng,
            )?;
            guards[o] = calibrate::windows(ctx, persons, &recorded, rates);
            chosen
        } else {
            weighted_pick(rng, &recorded, k, propensity).ok_or_else(|| {
                ctx.infeasible(&what, format!("cannot give `{code}` to {k} participants"))
            })?
        };
        for i in chosen {
            if let Some(a) = persons[i].answers.get_mut(id) {
                a[o] = true;
            }
        }
    }

    if cfg.ensure_one {
        // An option a participant could never be given (weight zero) is not moved to them.
        let allowed = |p: &Person, o: usize| {
            ctx.weight(p, cfg.weights.get(&options[o]).unwrap_or(&empty)) > 0.0
        };
        ensure_one(
            ctx, persons, id, &recorded, &grouped, &guards, allowed, &what, rng,
        )?;
    }
    Ok(())
}

/// Moves a Y from a participant with several to each participant with none, option counts
/// unchanged. Grouped options are never moved (their participant count is exact), nor is an
/// option when the move would take one of its published shares (`guards`) outside its window.
#[allow(clippy::too_many_arguments)]
fn ensure_one(
    ctx: &Ctx,
    persons: &mut [Person],
    id: &str,
    recorded: &[usize],
    grouped: &BTreeSet<usize>,
    guards: &[Vec<Window>],
    allowed: impl Fn(&Person, usize) -> bool,
    what: &str,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let n_opts = recorded
        .first()
        .map(|i| persons[*i].answers[id].len())
        .unwrap_or(0);
    // Current count of each guarded window.
    let mut held: Vec<Vec<usize>> = guards
        .iter()
        .enumerate()
        .map(|(o, ws)| {
            ws.iter()
                .map(|w| {
                    recorded
                        .iter()
                        .filter(|i| w.member[**i] && persons[**i].answers[id][o])
                        .count()
                })
                .collect()
        })
        .collect();
    let keeps_windows = |held: &[Vec<usize>], o: usize, from: usize, to: usize| {
        guards[o].iter().zip(&held[o]).all(|(w, x)| {
            let x = *x as i64 + i64::from(w.member[to]) - i64::from(w.member[from]);
            x >= w.lo as i64 && x <= w.hi as i64
        })
    };
    let ys = |p: &Person| p.answers[id].iter().filter(|y| **y).count();
    let movable: Vec<usize> = (0..n_opts).filter(|o| !grouped.contains(o)).collect();
    // Donor lists per option, pruned lazily as donors run out of spare answers.
    let mut donors: Vec<Vec<usize>> = vec![Vec::new(); n_opts];
    for &i in recorded {
        if ys(&persons[i]) >= 2 {
            for &o in &movable {
                if persons[i].answers[id][o] {
                    donors[o].push(i);
                }
            }
        }
    }
    let uncovered: Vec<usize> = recorded
        .iter()
        .copied()
        .filter(|i| ys(&persons[*i]) == 0)
        .collect();
    for u in uncovered {
        let mut opts: Vec<usize> = movable
            .iter()
            .copied()
            .filter(|o| allowed(&persons[u], *o))
            .collect();
        opts.shuffle(rng);
        let mut done = false;
        'options: for o in opts {
            // Donors whose move would break a window stay for other recipients; a few random
            // tries, then a scan, so a guarded option is not given up too early.
            let mut tries = 0;
            while !donors[o].is_empty() {
                let k = if tries < 8 {
                    rng.random_range(0..donors[o].len())
                } else {
                    match donors[o].iter().position(|&d| {
                        persons[d].answers[id][o]
                            && ys(&persons[d]) >= 2
                            && keeps_windows(&held, o, d, u)
                    }) {
                        Some(k) => k,
                        None => break,
                    }
                };
                tries += 1;
                let d = donors[o][k];
                if !(persons[d].answers[id][o] && ys(&persons[d]) >= 2) {
                    donors[o].swap_remove(k);
                    continue;
                }
                if !keeps_windows(&held, o, d, u) {
                    continue;
                }
                donors[o].swap_remove(k);
                for (w, x) in guards[o].iter().zip(held[o].iter_mut()) {
                    *x = *x + usize::from(w.member[u]) - usize::from(w.member[d]);
                }
                if let Some(a) = persons[d].answers.get_mut(id) {
                    a[o] = false;
                }
                if let Some(a) = persons[u].answers.get_mut(id) {
                    a[o] = true;
                }
                done = true;
                break 'options;
            }
        }
        if !done {
            return Err(ctx.infeasible(
                what,
                "not enough answers to give everyone with data at least one Y".into(),
            ));
        }
    }
    Ok(())
}
