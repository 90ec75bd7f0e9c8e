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

use evalpipe_study::QuestionSpec;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::alloc::{weighted_index, weighted_pick};
use crate::calibrate::{self, Spec, Window};
use crate::characteristics::split_recorded;
use crate::config::{OptionGroupCfg, QuestionCfg, Weights};
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

/// A question being generated: its configuration, its options and who answers it.
struct Question<'a> {
    id: &'a str,
    /// `[questions.<id>]`, for errors.
    what: &'a str,
    cfg: &'a QuestionCfg,
    options: &'a [String],
    /// The participants with data: every option Y or N.
    recorded: &'a [usize],
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
    let ctx: &Ctx = ctx;

    let recorded = who_answers(ctx, persons, id, cfg, spec, &what, rng)?;
    for &i in &recorded {
        persons[i]
            .answers
            .insert(id.to_string(), vec![false; options.len()]);
    }
    let q = Question {
        id,
        what: &what,
        cfg,
        options: &options,
        recorded: &recorded,
    };
    for code in cfg.rates.keys() {
        if q.index(code).is_none() {
            return Err(ctx.config_err(format!("{what}: rates of unknown option `{code}`")));
        }
    }
    let grouped = answer_groups(ctx, persons, &q, rng)?;
    // Windows of the published shares, by option: ensure_one may not move an answer out of one.
    let mut guards: Vec<Vec<Window>> = (0..options.len()).map(|_| Vec::new()).collect();
    for (o, code) in options.iter().enumerate() {
        if !grouped.contains(&o) {
            guards[o] = answer_option(ctx, persons, &q, o, code, rng)?;
        }
    }
    if cfg.ensure_one {
        // An option a participant could never be given (weight zero) is not moved to them.
        let allowed = |p: &Person, o: usize| ctx.weight(p, q.weights_of(&options[o])) > 0.0;
        ensure_one(ctx, persons, &q, &grouped, &guards, allowed, rng)?;
    }
    Ok(())
}

impl Question<'_> {
    /// The position of an option's code.
    fn index(&self, code: &str) -> Option<usize> {
        self.options.iter().position(|o| o == code)
    }

    /// The weights of an option (none: every participant alike).
    fn weights_of(&self, code: &str) -> &Weights {
        static NONE: Weights = Weights::new();
        self.cfg.weights.get(code).unwrap_or(&NONE)
    }
}

/// Who has data: the participants of the question it follows, or exactly `recorded` of those
/// it applies to (blanks where `missing_weight` says).
fn who_answers(
    ctx: &Ctx,
    persons: &[Person],
    id: &str,
    cfg: &QuestionCfg,
    spec: &QuestionSpec,
    what: &str,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    if let Some(f) = &cfg.follows {
        if !ctx.questions.contains_key(f) || !ctx.generated.contains(f) || f == id {
            return Err(ctx.config_err(format!(
                "{what}: follows `{f}`, which is not an earlier question"
            )));
        }
        return Ok((0..persons.len())
            .filter(|i| persons[*i].answers.contains_key(f))
            .collect());
    }
    let eligible: Vec<usize> = (0..persons.len())
        .filter(|i| ctx.applies(&persons[*i], spec.applies_when.as_ref()))
        .collect();
    let n = cfg
        .recorded
        .ok_or_else(|| ctx.config_err(format!("{what}: needs `recorded` or `follows`")))?;
    let (recorded, _) = split_recorded(
        ctx,
        persons,
        &eligible,
        n,
        &cfg.missing_weight,
        id,
        what,
        rng,
    )?;
    Ok(recorded)
}

/// The option groups: exactly `participants` have one of a group's options (a second with
/// `second_option_share`). Returns the grouped options, which later steps never move.
fn answer_groups(
    ctx: &Ctx,
    persons: &mut [Person],
    q: &Question,
    rng: &mut ChaCha8Rng,
) -> Result<BTreeSet<usize>> {
    let mut grouped = BTreeSet::new();
    for g in &q.cfg.group {
        ctx.check_weights(q.what, &g.weights)?;
        let idx: Vec<usize> = g
            .options
            .iter()
            .map(|o| {
                q.index(o)
                    .ok_or_else(|| ctx.config_err(format!("{}: unknown option `{o}`", q.what)))
            })
            .collect::<Result<_>>()?;
        grouped.extend(idx.iter().copied());
        let chosen = group_members(ctx, persons, q, g, rng)?;
        for i in chosen {
            let w: Vec<f64> = idx
                .iter()
                .map(|&o| ctx.weight(&persons[i], q.weights_of(&q.options[o])))
                .collect();
            let first = weighted_index(rng, &w).unwrap_or(0);
            if let Some(a) = persons[i].answers.get_mut(q.id) {
                a[idx[first]] = true;
            }
            if idx.len() > 1 && rng.random::<f64>() < g.second_option_share {
                let mut w2 = w.clone();
                w2[first] = 0.0;
                if let Some(second) = weighted_index(rng, &w2)
                    && let Some(a) = persons[i].answers.get_mut(q.id)
                {
                    a[idx[second]] = true;
                }
            }
        }
    }
    Ok(grouped)
}

/// Who has one of a group's options: a weighted sample, or, where the group's shares are
/// published, selected so that every share rounds as printed.
fn group_members(
    ctx: &Ctx,
    persons: &[Person],
    q: &Question,
    g: &OptionGroupCfg,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    if g.rates.is_empty() {
        return weighted_pick(rng, q.recorded, g.participants, |i| {
            ctx.weight(&persons[i], &g.weights)
        })
        .ok_or_else(|| {
            ctx.infeasible(q.what, format!("too few for a group of {}", g.participants))
        });
    }
    let label = format!("{} group {:?}", q.what, g.options);
    calibrate::select(
        ctx,
        persons,
        &Spec {
            what: &label,
            base: q.recorded,
            pool: q.recorded,
            total: Some(g.participants),
            rates: &g.rates,
            counts: &[],
            then: &[],
            cells: &[],
            fit: None,
        },
        |i| ctx.weight(&persons[i], &g.weights).ln(),
        rng,
    )
}

/// How many participants say Y to an option outside the groups: a ratio of those who said Y
/// to it in the question followed, else its count or share.
fn option_count(ctx: &Ctx, persons: &[Person], q: &Question, code: &str) -> Result<usize> {
    let (cfg, what) = (q.cfg, q.what);
    if let Some(f) = &cfg.follows {
        let (_, fopts) = &ctx.questions[f];
        let fo = fopts.iter().position(|x| x == code).ok_or_else(|| {
            ctx.config_err(format!("{what}: option `{code}` is not an option of `{f}`"))
        })?;
        let base = q
            .recorded
            .iter()
            .filter(|i| persons[**i].answers[f][fo])
            .count();
        let ratio = cfg
            .ratio
            .get(code)
            .copied()
            .or(cfg.default_ratio)
            .ok_or_else(|| ctx.config_err(format!("{what}: no ratio for `{code}`")))?;
        Ok(((base as f64 * ratio).round() as usize).min(q.recorded.len()))
    } else if let Some(n) = cfg.counts.get(code) {
        Ok(*n)
    } else if let Some(s) = cfg.shares.get(code) {
        Ok((s * q.recorded.len() as f64).round() as usize)
    } else {
        Err(ctx.config_err(format!(
            "{what}: option `{code}` has no count, share or group"
        )))
    }
}

/// Gives option `o` (`code`) to exactly its count of participants: likelier where its weights
/// say, for those without a Y yet (`ensure_one`) and for those who said Y to it in the question
/// followed. Returns the windows of its published shares, if any, which later moves must keep.
fn answer_option(
    ctx: &Ctx,
    persons: &mut [Person],
    q: &Question,
    o: usize,
    code: &str,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Window>> {
    let (cfg, what, id) = (q.cfg, q.what, q.id);
    let k = option_count(ctx, persons, q, code)?;
    let w = q.weights_of(code);
    ctx.check_weights(what, w)?;
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
    let (chosen, guards) = if let Some(rates) = cfg.rates.get(code) {
        // Nobody with a zero weight can have the option, whatever the shares need.
        let pool: Vec<usize> = q
            .recorded
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
                base: q.recorded,
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
        (chosen, calibrate::windows(ctx, persons, q.recorded, rates))
    } else {
        let chosen = weighted_pick(rng, q.recorded, k, propensity).ok_or_else(|| {
            ctx.infeasible(what, format!("cannot give `{code}` to {k} participants"))
        })?;
        (chosen, Vec::new())
    };
    for i in chosen {
        if let Some(a) = persons[i].answers.get_mut(id) {
            a[o] = true;
        }
    }
    Ok(guards)
}

/// Moves a Y from a participant with several to each participant with none, option counts
/// unchanged. Grouped options are never moved (their participant count is exact), nor is an
/// option when the move would take one of its published shares (`guards`) outside its window.
fn ensure_one(
    ctx: &Ctx,
    persons: &mut [Person],
    q: &Question,
    grouped: &BTreeSet<usize>,
    guards: &[Vec<Window>],
    allowed: impl Fn(&Person, usize) -> bool,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let (id, recorded) = (q.id, q.recorded);
    let n_opts = recorded
        .first()
        .map(|i| persons[*i].answers[id].len())
        .unwrap_or(0);
    let mut guards: Vec<Guard> = guards
        .iter()
        .enumerate()
        .map(|(o, windows)| Guard::of(windows, persons, q, o))
        .collect();
    let movable: Vec<usize> = (0..n_opts).filter(|o| !grouped.contains(o)).collect();
    // Donor lists per option, pruned lazily as donors run out of spare answers.
    let mut donors: Vec<Vec<usize>> = vec![Vec::new(); n_opts];
    for &i in recorded {
        if yes_count(&persons[i], id) >= 2 {
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
        .filter(|i| yes_count(&persons[*i], id) == 0)
        .collect();
    for u in uncovered {
        let mut opts: Vec<usize> = movable
            .iter()
            .copied()
            .filter(|o| allowed(&persons[u], *o))
            .collect();
        opts.shuffle(rng);
        let mut done = false;
        for o in opts {
            if move_from_a_donor(persons, id, o, u, &mut guards[o], &mut donors[o], rng) {
                done = true;
                break;
            }
        }
        if !done {
            return Err(ctx.infeasible(
                q.what,
                "not enough answers to give everyone with data at least one Y".into(),
            ));
        }
    }
    Ok(())
}

/// How many options a participant says Y to.
fn yes_count(p: &Person, id: &str) -> usize {
    p.answers[id].iter().filter(|y| **y).count()
}

/// The windows of an option's published shares, with how many of each window's members say Y
/// to it now.
struct Guard<'a> {
    windows: &'a [Window],
    held: Vec<usize>,
}

impl<'a> Guard<'a> {
    fn of(windows: &'a [Window], persons: &[Person], q: &Question, o: usize) -> Guard<'a> {
        let held = windows
            .iter()
            .map(|w| {
                q.recorded
                    .iter()
                    .filter(|i| w.member[**i] && persons[**i].answers[q.id][o])
                    .count()
            })
            .collect();
        Guard { windows, held }
    }

    /// Whether moving the option's Y from `from` to `to` keeps every window.
    fn keeps(&self, from: usize, to: usize) -> bool {
        self.windows.iter().zip(&self.held).all(|(w, x)| {
            let x = *x as i64 + i64::from(w.member[to]) - i64::from(w.member[from]);
            x >= w.lo as i64 && x <= w.hi as i64
        })
    }

    fn moved(&mut self, from: usize, to: usize) {
        for (w, x) in self.windows.iter().zip(self.held.iter_mut()) {
            *x = *x + usize::from(w.member[to]) - usize::from(w.member[from]);
        }
    }
}

/// Moves option `o`'s Y to `to` from one of its `donors` who has a Y to spare, if one can give it
/// without breaking a window; donors with none to spare any more are dropped on the way.
fn move_from_a_donor(
    persons: &mut [Person],
    id: &str,
    o: usize,
    to: usize,
    guard: &mut Guard,
    donors: &mut Vec<usize>,
    rng: &mut ChaCha8Rng,
) -> bool {
    let spare = |p: &Person| p.answers[id][o] && yes_count(p, id) >= 2;
    // Donors whose move would break a window stay for other recipients; a few random tries,
    // then a scan, so a guarded option is not given up too early.
    let mut tries = 0;
    while !donors.is_empty() {
        let k = if tries < 8 {
            rng.random_range(0..donors.len())
        } else {
            match donors
                .iter()
                .position(|&d| spare(&persons[d]) && guard.keeps(d, to))
            {
                Some(k) => k,
                None => break,
            }
        };
        tries += 1;
        let d = donors[k];
        if !spare(&persons[d]) {
            donors.swap_remove(k);
            continue;
        }
        if !guard.keeps(d, to) {
            continue;
        }
        donors.swap_remove(k);
        guard.moved(d, to);
        if let Some(a) = persons[d].answers.get_mut(id) {
            a[o] = false;
        }
        if let Some(a) = persons[to].answers.get_mut(id) {
            a[o] = true;
        }
        return true;
    }
    false
}
