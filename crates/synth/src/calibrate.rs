//! Choosing who reaches an outcome so that every published rate comes out as printed.
//!
//! The report publishes an outcome's rate by several characteristics at once (Tables A-16 to
//! by cohort, provider, health, caring, sex, ethnicity, benefits and age), each over the
//! participants with data for that characteristic, rounded to a whole per cent. A rate `r` over a
//! base of `N` is reproduced by any count `k` with `|100 k / N − r| < 0.5`: a *window* of counts,
//! centred on `r N / 100`. Some outcomes also have exact counts (1,022 job starts in the MI).
//!
//! The method, in three steps:
//!
//! 1. **Latent propensity.** Each candidate has a score `s_i`: the log odds ratios of
//!    `pipeline/twin.toml` (a logistic model of the outcome on the participant's characteristics).
//! 2. **Raking.** Every published cell `c` (characteristic × category, or an exact count) gets an
//!    offset `o_c`, fitted by iterative proportional fitting on the logit scale (a Newton step
//!    per cell, cycling over the cells until the expected counts settle) so that the
//!    probabilities `p_i = σ(s_i + Σ_{c ∋ i} o_c)` add up to each cell's target. This is raking
//!    of a logistic model over all the published margins at once: the offsets are the main
//!    effects the published margins require beyond the latent model, and the model's other
//!    effects (who *within* a cell reaches the outcome) are untouched.
//! 3. **Exact selection.** Each candidate draws a latent value `s_i + Σ o_c + ε_i` (ε standard
//!    logistic); the `K` highest reach the outcome. A repair loop then swaps single participants
//!    in and out, always the exchange that most reduces the distance of the cells from their
//!    windows (then from their centres), preferring, among equal exchanges, the participants
//!    nearest the cut in latent value, until every cell is inside its window. The regression
//!    structure survives because the latent order decides everything the margins leave free.
//!
//! Deterministic: the only randomness is the `ε` drawn from the caller's stream, in pool order.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Result;
use crate::config::{ModelTargetCfg, Rate, Rates, Weights};
use crate::person::{Ctx, Person};

/// One published cell: a set of candidates and the window its count must fall in.
#[derive(Debug, Clone)]
struct Cell {
    label: String,
    /// Pool positions of the candidates in the cell.
    members: Vec<usize>,
    /// Participants in the cell's base (the rate's denominator).
    base: usize,
    lo: usize,
    hi: usize,
    /// Centre of the window (the expected count raking aims at).
    target: f64,
    /// Rates published *of* this cell's selected participants, then of those reaching the next
    /// outcome, … (e.g. job outcome rates of the cell's embedded participants, then 13-week
    /// sustainment of its job starters): the count must be a base they can all be printed of.
    then: Vec<f64>,
    /// A score-equation window: the polish may leave it (its model is judged directly).
    model: bool,
}

/// Whether `x` participants are a base of which the chain of rates `then` can be printed: the
/// first rate's window is not empty and holds a count that is such a base for the rest.
fn printable(x: usize, then: &[f64]) -> bool {
    let Some((pct, rest)) = then.split_first() else {
        return true;
    };
    if x == 0 {
        return false;
    }
    let (lo, hi) = window(*pct, x);
    (lo..=hi).any(|k| printable(k, rest))
}

impl Cell {
    /// Whether the cell may end with `x` selected.
    fn allowed(&self, x: i64) -> bool {
        x >= self.lo as i64
            && x <= self.hi as i64
            && (self.then.is_empty() || printable(x as usize, &self.then))
    }

    /// How far `x` is from the nearest count the cell may end with (so that the repair loop
    /// walks towards it across counts that are not allowed either).
    fn violation(&self, x: i64) -> i64 {
        if self.allowed(x) {
            return 0;
        }
        let reach = self.members.len() as i64 + 1;
        (1..=reach)
            .find(|d| self.allowed(x - d) || self.allowed(x + d))
            .unwrap_or(reach)
    }
}

/// A published cell as a guard on later moves: who is in it and the counts it may hold.
pub(crate) struct Window {
    /// By index into `persons`.
    pub member: Vec<bool>,
    pub lo: usize,
    pub hi: usize,
}

/// The windows of the published rates `rates` over the participants `base` (indices into
/// `persons`), for code that moves answers after [`select`] and must not undo it.
pub(crate) fn windows(ctx: &Ctx, persons: &[Person], base: &[usize], rates: &Rates) -> Vec<Window> {
    let mut out = Vec::new();
    for (dim, by_value) in rates {
        for (value, rate) in by_value {
            let mut member = vec![false; persons.len()];
            let mut n = 0;
            for &i in base {
                if ctx.recorded_dim(&persons[i], dim).as_deref() == Some(value) {
                    member[i] = true;
                    n += 1;
                }
            }
            let (lo, hi) = match rate {
                Rate::Exactly(pct) => window(*pct, n),
                Rate::Within([a, b]) => (window(*a, n).0, window(*b, n).1),
            };
            out.push(Window { member, lo, hi });
        }
    }
    out
}

/// A count window over any set of participants: a model's score equation
/// ([`model_cells`]).
pub(crate) struct CellTarget {
    pub label: String,
    /// Indices into `persons`; only those in the pool can be selected.
    pub persons: Vec<usize>,
    pub lo: usize,
    pub hi: usize,
    /// The expected count raking aims at.
    pub target: f64,
}

/// The score equations of a logistic regression, as count windows.
///
/// A logistic model's maximum-likelihood estimate β̂ solves `Σ_i x_i (y_i − σ(x_i β̂)) = 0`: for
/// the intercept and every dummy `d`, the number of outcomes among the sample members with
/// `x_d = 1` equals their expected number under the fitted model. So an outcome chosen to make
/// those counts equal (to within `tolerance`) the expected counts at the *published* odds ratios
/// (dimension → value → odds ratio against the values not listed, the intercept fitted to
/// `events` outcomes in the sample) makes the refitted model return the published odds ratios,
/// whatever else the selection has to meet. The equations do not depend on which level of a
/// factor is the reference, so any level may be named. The published terms get a tight window,
/// the model's other terms and its intercept a looser one. Dimensions are read as recorded
/// ([`Ctx::recorded_dim`]), as the pipeline's model frame reads them.
pub(crate) fn model_cells(
    ctx: &Ctx,
    persons: &[Person],
    what: &str,
    sample: &[usize],
    target: &ModelTargetCfg,
) -> Result<(Vec<CellTarget>, ModelFit)> {
    let events = target.events;
    let odds = every_odds_ratio(ctx, what, target)?;
    if events > sample.len() {
        return Err(ctx.infeasible(
            what,
            format!("{events} events in a model sample of {}", sample.len()),
        ));
    }
    let value = |i: usize, dim: &str| ctx.recorded_dim(&persons[i], dim);
    let linear: Vec<f64> = sample
        .iter()
        .map(|&i| {
            odds.iter()
                .filter_map(|(dim, by)| value(i, dim).and_then(|v| by.get(&v)).map(|or| or.ln()))
                .sum()
        })
        .collect();
    let alpha = intercept(&linear, events);
    let fit = fit_at_target(ctx, persons, what, sample, target, &odds, alpha)?;
    // The intercept's equation: the outcomes in the sample, as near `events` as the others.
    let mut cells = vec![CellTarget {
        label: format!("{what} model sample ({events} events)"),
        persons: sample.to_vec(),
        lo: events.saturating_sub(target.other_tolerance),
        hi: events + target.other_tolerance,
        target: events as f64,
    }];
    for (dim, by) in &odds {
        for (v, or) in by {
            let tolerance = if is_published(target, dim, v) {
                target.tolerance
            } else {
                target.other_tolerance
            };
            let members: Vec<(usize, f64)> = sample
                .iter()
                .zip(&linear)
                .filter(|(i, _)| value(**i, dim).as_deref() == Some(v.as_str()))
                .map(|(i, s)| (*i, sigmoid(alpha + s)))
                .collect();
            if members.is_empty() {
                return Err(ctx.infeasible(
                    what,
                    format!("no member of the model sample has {dim} = {v}"),
                ));
            }
            let t: f64 = members.iter().map(|m| m.1).sum();
            let centre = t.round() as usize;
            cells.push(CellTarget {
                label: format!("{what} model: {dim} = {v} (odds ratio {or}: {t:.1} expected)"),
                persons: members.iter().map(|m| m.0).collect(),
                lo: centre.saturating_sub(tolerance),
                hi: centre + tolerance,
                target: t,
            });
        }
    }
    Ok((cells, fit))
}

/// Whether the report publishes the odds ratio of `dim` = `v` (not a synthetic other term).
fn is_published(target: &ModelTargetCfg, dim: &str, v: &str) -> bool {
    target
        .odds_ratios
        .get(dim)
        .is_some_and(|b| b.contains_key(v))
}

/// The model's terms at the target: the published odds ratios and the synthetic others, none
/// named twice.
fn every_odds_ratio(ctx: &Ctx, what: &str, target: &ModelTargetCfg) -> Result<Weights> {
    let mut odds = target.odds_ratios.clone();
    for (dim, by) in &target.other_odds_ratios {
        for (v, or) in by {
            if odds.get(dim).is_some_and(|b| b.contains_key(v)) {
                return Err(ctx.config_err(format!(
                    "{what}: {dim} = {v} is in both odds_ratios and other_odds_ratios"
                )));
            }
            odds.entry(dim.clone()).or_default().insert(v.clone(), *or);
        }
    }
    Ok(odds)
}

/// The intercept α with `Σ σ(α + s_i) = events` over the sample's linear predictors `s_i`, by
/// bisection (the sum is increasing in α).
fn intercept(linear: &[f64], events: usize) -> f64 {
    let expected = |a: f64| linear.iter().map(|s| sigmoid(a + s)).sum::<f64>();
    let (mut lo, mut hi) = (-30.0f64, 30.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if expected(mid) < events as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regression linearised at its target (intercept `alpha`, the odds ratios `odds`), for the
/// polish: the design of the sample, intercept first, then one dummy per named (dimension,
/// value).
fn fit_at_target(
    ctx: &Ctx,
    persons: &[Person],
    what: &str,
    sample: &[usize],
    target: &ModelTargetCfg,
    odds: &Weights,
    alpha: f64,
) -> Result<ModelFit> {
    let terms: Vec<(&String, &String, f64)> = odds
        .iter()
        .flat_map(|(dim, by)| by.iter().map(move |(v, or)| (dim, v, *or)))
        .collect();
    let mut beta = vec![alpha];
    beta.extend(terms.iter().map(|t| t.2.ln()));
    let published: Vec<usize> = terms
        .iter()
        .enumerate()
        .filter(|(_, (dim, v, _))| is_published(target, dim, v))
        .map(|(j, _)| j + 1)
        .collect();
    let rows: BTreeMap<usize, Vec<f64>> = sample
        .iter()
        .map(|&i| {
            let mut x = vec![1.0];
            x.extend(terms.iter().map(|(dim, v, _)| {
                let value = ctx.recorded_dim(&persons[i], dim);
                f64::from(u8::from(value.as_deref() == Some(v.as_str())))
            }));
            (i, x)
        })
        .collect();
    ModelFit::at(rows, beta, published).map_err(|m| ctx.infeasible(what, m))
}

/// A regression an outcome is chosen to refit to, linearised at its target coefficients β*:
/// for outcomes `y` the maximum-likelihood estimate is, to first order, `β* + I⁻¹ X'(y − p*)`
/// (one Newton step from β*, `I` the information at β*). Once the selection meets every
/// published cell, [`select`] exchanges participants where that moves the published terms'
/// estimates nearer their targets and keeps every other cell as it is: the score-equation
/// windows get the estimates near, this makes them exact to well within the printed decimal.
pub(crate) struct ModelFit {
    /// Design rows (intercept first) of the sample members, by index into `persons`.
    rows: BTreeMap<usize, Vec<f64>>,
    beta: Vec<f64>,
    /// Positions in `beta` of the published terms.
    published: Vec<usize>,
    /// I⁻¹ at β*.
    inverse: ndarray::Array2<f64>,
}

impl ModelFit {
    fn at(
        rows: BTreeMap<usize, Vec<f64>>,
        beta: Vec<f64>,
        published: Vec<usize>,
    ) -> std::result::Result<ModelFit, String> {
        use linfa_linalg::cholesky::Cholesky;
        use linfa_linalg::triangular::{SolveTriangularInplace, UPLO};
        let d = beta.len();
        let mut info = ndarray::Array2::<f64>::zeros((d, d));
        for x in rows.values() {
            let p = sigmoid(dot(x, &beta));
            let w = p * (1.0 - p);
            for a in 0..d {
                for b in 0..d {
                    info[[a, b]] += w * x[a] * x[b];
                }
            }
        }
        let l = info
            .cholesky()
            .map_err(|e| format!("the model's information at the target is singular: {e}"))?;
        let mut inverse = ndarray::Array2::eye(d);
        l.solve_triangular_inplace(&mut inverse, UPLO::Lower)
            .map_err(|e| format!("triangular solve: {e}"))?;
        l.t()
            .solve_triangular_inplace(&mut inverse, UPLO::Upper)
            .map_err(|e| format!("triangular solve: {e}"))?;
        Ok(ModelFit {
            rows,
            beta,
            published,
            inverse,
        })
    }

    /// I⁻¹ x, for a sample member; `None` outside the sample.
    fn direction(&self, person: usize) -> Option<Vec<f64>> {
        let x = self.rows.get(&person)?;
        Some(
            (0..self.beta.len())
                .map(|a| (0..x.len()).map(|b| self.inverse[[a, b]] * x[b]).sum())
                .collect(),
        )
    }

    /// The linearised estimate's distance from the target, Δβ = I⁻¹ X'(y − p*), for outcomes
    /// `y` (who is selected).
    fn shift(&self, selected: impl Fn(usize) -> bool) -> Vec<f64> {
        let d = self.beta.len();
        let mut g = vec![0.0; d];
        for (&i, x) in &self.rows {
            let r = f64::from(u8::from(selected(i))) - sigmoid(dot(x, &self.beta));
            for (gj, xj) in g.iter_mut().zip(x) {
                *gj += r * xj;
            }
        }
        (0..d)
            .map(|a| (0..d).map(|b| self.inverse[[a, b]] * g[b]).sum())
            .collect()
    }

    /// How far the published odds ratios are from their targets: the sum of squared changes of
    /// the odds ratios (≈ OR·Δβ), so that every term is judged on the scale it is printed on.
    fn loss(&self, shift: &[f64]) -> f64 {
        self.published
            .iter()
            .map(|&j| (self.beta[j].exp() * shift[j]).powi(2))
            .sum()
    }
}

fn dot(x: &[f64], beta: &[f64]) -> f64 {
    x.iter().zip(beta).map(|(a, b)| a * b).sum()
}

/// An exact count over the candidates with `dim` = `value`.
pub(crate) struct CountTarget<'a> {
    pub dim: &'a str,
    pub value: &'a str,
    pub count: usize,
}

/// What to select.
pub(crate) struct Spec<'a> {
    /// What the caller calls it, for errors.
    pub what: &'a str,
    /// The rates' base: the participants the published percentages are of.
    pub base: &'a [usize],
    /// The candidates (a subset of `base`: those who can reach the outcome).
    pub pool: &'a [usize],
    /// Exactly this many reach the outcome (`None`: whatever the cells imply).
    pub total: Option<usize>,
    /// Published rates by recorded dimension and value, in whole per cent.
    pub rates: &'a Rates,
    /// Exact counts.
    pub counts: &'a [CountTarget<'a>],
    /// Rates published of the selected participants by the same dimensions (the next outcome's
    /// rates, then the one after): each such cell's count must be a base they can be printed of.
    pub then: &'a [&'a Rates],
    /// Further count windows (a model's score equations).
    pub cells: &'a [CellTarget],
    /// The regression those windows are the score equations of, polished at the end.
    pub fit: Option<&'a ModelFit>,
}

/// The rates of `dim` = `value` along a chain of later outcomes, up to the first that does not
/// publish one.
fn chain(then: &[&Rates], dim: &str, value: &str) -> Vec<f64> {
    then.iter()
        .map_while(|r| match r.get(dim).and_then(|v| v.get(value)) {
            Some(Rate::Exactly(pct)) => Some(*pct),
            _ => None,
        })
        .collect()
}

/// The window of counts whose share of `n` rounds to `pct` per cent (whole or not).
fn window(pct: f64, n: usize) -> (usize, usize) {
    let n_f = n as f64;
    // k with 100 k / n strictly inside (pct − 0.5, pct + 0.5); a small epsilon keeps an exact
    // half (which rounding could take either way) out of the window.
    let lo_real = (pct - 0.5) * n_f / 100.0;
    let hi_real = (pct + 0.5) * n_f / 100.0;
    let lo = (lo_real + 1e-9).floor() as i64 + 1;
    let hi = (hi_real - 1e-9).ceil() as i64 - 1;
    (lo.max(0) as usize, hi.max(0) as usize)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A standard logistic draw tied to a participant: the same for the same `base`, participant
/// and attempt, whoever else is in the pool (so a change of calibration moves the selection
/// smoothly instead of re-dealing every draw). SplitMix64 of the three, as a uniform.
fn person_noise(base: u64, person: usize, attempt: usize) -> f64 {
    let mut z = base
        ^ (person as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (attempt as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (u / (1.0 - u)).ln()
}

/// A standard logistic draw.
pub(crate) fn logistic(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random_range(1e-12..1.0 - 1e-12);
    (u / (1.0 - u)).ln()
}

/// Selects the participants (indices into `persons`) who reach the outcome.
pub(crate) fn select(
    ctx: &Ctx,
    persons: &[Person],
    spec: &Spec,
    score: impl Fn(usize) -> f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    let pool = spec.pool;
    let n = pool.len();
    // The module's three steps: the cells, raking, exact selection.
    let cells = cells(ctx, persons, spec)?;
    let mut cells_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, cell) in cells.iter().enumerate() {
        for &k in &cell.members {
            cells_of[k].push(c);
        }
    }
    let eta = rake(&cells, pool.iter().map(|i| score(*i)).collect());

    // Exact selection: the K highest latent values, then repair. A repair can end in a local
    // optimum (every single exchange breaks as much as it mends); then the latent values are
    // drawn again, up to ATTEMPTS times. Each participant's draw depends on the participant, the
    // attempt and one number from the caller's stream only.
    const ATTEMPTS: usize = 40;
    let mut last: Vec<String> = Vec::new();
    let base: u64 = rng.random();
    for attempt in 0..ATTEMPTS {
        let key: Vec<f64> = (0..n)
            .map(|k| eta[k] + person_noise(base, pool[k], attempt))
            .collect();
        let mut chosen = highest(&eta, &key, spec.total);
        let mut count: Vec<i64> = cells
            .iter()
            .map(|cell| cell.members.iter().filter(|k| chosen[**k]).count() as i64)
            .collect();
        let free_total = spec.total.is_none();
        repair(&cells, &cells_of, &key, free_total, &mut chosen, &mut count);
        let misses: Vec<String> = cells
            .iter()
            .zip(&count)
            .filter(|(c, x)| c.violation(**x) > 0)
            .map(|(c, x)| format!("{}: {x} of {}, not {}–{}", c.label, c.base, c.lo, c.hi))
            .collect();
        if misses.is_empty() {
            if let Some(fit) = spec.fit {
                polish(fit, pool, &cells, &cells_of, &key, &mut chosen, &mut count);
            }
            return Ok((0..n).filter(|k| chosen[*k]).map(|k| pool[k]).collect());
        }
        last = misses;
    }
    Err(ctx.infeasible(
        spec.what,
        format!(
            "the published cells cannot all be met after {ATTEMPTS} attempts: {}",
            last.join("; ")
        ),
    ))
}

/// Every window the selection must meet, over pool positions. The order is part of the result:
/// raking cycles over the cells in it, and the first cell that cannot be met is the error.
fn cells(ctx: &Ctx, persons: &[Person], spec: &Spec) -> Result<Vec<Cell>> {
    let mut cells = rate_cells(ctx, persons, spec)?;
    cells.extend(base_cells(ctx, persons, spec));
    cells.extend(count_cells(ctx, persons, spec)?);
    cells.extend(score_equation_cells(ctx, persons, spec)?);
    if let Some(k) = spec.total {
        let n = spec.pool.len();
        if k > n {
            return Err(ctx.infeasible(
                spec.what,
                format!("{k} should reach the outcome but only {n} may"),
            ));
        }
        cells.push(Cell {
            label: format!("all ({k} exactly)"),
            members: (0..n).collect(),
            base: n,
            lo: k,
            hi: k,
            target: k as f64,
            then: Vec::new(),
            model: false,
        });
    }
    Ok(cells)
}

/// The pool positions of the candidates whose recorded `dim` is `value`.
fn candidates_with(
    ctx: &Ctx,
    persons: &[Person],
    pool: &[usize],
    dim: &str,
    value: &str,
) -> Vec<usize> {
    (0..pool.len())
        .filter(|k| ctx.recorded_dim(&persons[pool[*k]], dim).as_deref() == Some(value))
        .collect()
}

/// How many of the rates' base have `dim` = `value`: the denominator of the published rate.
fn base_with(ctx: &Ctx, persons: &[Person], spec: &Spec, dim: &str, value: &str) -> usize {
    spec.base
        .iter()
        .filter(|i| ctx.recorded_dim(&persons[**i], dim).as_deref() == Some(value))
        .count()
}

/// The cells of the published rates: each count in the window that rounds to the printed per
/// cent of its base.
fn rate_cells(ctx: &Ctx, persons: &[Person], spec: &Spec) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for (dim, by_value) in spec.rates {
        for (value, rate) in by_value {
            let base = base_with(ctx, persons, spec, dim, value);
            let members = candidates_with(ctx, persons, spec.pool, dim, value);
            let (lo, hi, pct, label) = match rate {
                Rate::Exactly(pct) => {
                    let (lo, hi) = window(*pct, base);
                    (lo, hi, *pct, format!("{dim} = {value} ({pct}% of {base})"))
                }
                // A range only bounds the count: no centre for raking to pull to.
                Rate::Within([a, b]) => (
                    window(*a, base).0,
                    window(*b, base).1,
                    f64::NAN,
                    format!("{dim} = {value} ({a}–{b}% of {base})"),
                ),
            };
            if base == 0 || lo > members.len() || lo > hi {
                return Err(ctx.infeasible(
                    spec.what,
                    format!(
                        "{label}: needs {lo}–{hi} but only {} may reach the outcome",
                        members.len()
                    ),
                ));
            }
            let hi = hi.min(members.len());
            let target = if pct.is_nan() {
                f64::NAN
            } else {
                (pct * base as f64 / 100.0).clamp(lo as f64, hi as f64)
            };
            cells.push(Cell {
                label,
                members,
                base,
                lo,
                hi,
                target,
                then: chain(spec.then, dim, value),
                model: false,
            });
        }
    }
    Ok(cells)
}

/// Cells only the later outcomes' rates name: no window of their own, but their count must be a
/// base those rates can be printed of.
fn base_cells(ctx: &Ctx, persons: &[Person], spec: &Spec) -> Vec<Cell> {
    let mut extra: Vec<(&String, &String)> = Vec::new();
    for rates in spec.then {
        for (dim, by_value) in rates.iter() {
            for value in by_value.keys() {
                if !spec.rates.get(dim).is_some_and(|r| r.contains_key(value))
                    && !extra.contains(&(dim, value))
                {
                    extra.push((dim, value));
                }
            }
        }
    }
    let mut cells = Vec::new();
    for (dim, value) in extra {
        let then = chain(spec.then, dim, value);
        if then.is_empty() {
            continue;
        }
        let members = candidates_with(ctx, persons, spec.pool, dim, value);
        cells.push(Cell {
            label: format!("{dim} = {value} (base of {then:?}% rates)"),
            base: base_with(ctx, persons, spec, dim, value),
            lo: 0,
            hi: members.len(),
            target: f64::NAN,
            then,
            members,
            model: false,
        });
    }
    cells
}

/// The exact counts (1,022 job starts in the MI …): a window of one count.
fn count_cells(ctx: &Ctx, persons: &[Person], spec: &Spec) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for t in spec.counts {
        let members = candidates_with(ctx, persons, spec.pool, t.dim, t.value);
        let label = format!("{} = {} ({} exactly)", t.dim, t.value, t.count);
        if t.count > members.len() {
            return Err(ctx.infeasible(
                spec.what,
                format!("{label}: only {} may reach the outcome", members.len()),
            ));
        }
        cells.push(Cell {
            label,
            base: members.len(),
            members,
            lo: t.count,
            hi: t.count,
            target: t.count as f64,
            then: Vec::new(),
            model: false,
        });
    }
    Ok(cells)
}

/// The caller's further windows (a model's score equations, [`model_cells`]), over the members
/// of their sets who are candidates.
fn score_equation_cells(ctx: &Ctx, persons: &[Person], spec: &Spec) -> Result<Vec<Cell>> {
    let mut position = vec![usize::MAX; persons.len()];
    for (k, &i) in spec.pool.iter().enumerate() {
        position[i] = k;
    }
    let mut cells = Vec::new();
    for t in spec.cells {
        let members: Vec<usize> = t
            .persons
            .iter()
            .map(|i| position[*i])
            .filter(|k| *k != usize::MAX)
            .collect();
        if t.lo > members.len() {
            return Err(ctx.infeasible(
                spec.what,
                format!(
                    "{}: needs {}–{} but only {} may reach the outcome",
                    t.label,
                    t.lo,
                    t.hi,
                    members.len()
                ),
            ));
        }
        cells.push(Cell {
            label: t.label.clone(),
            base: t.persons.len(),
            hi: t.hi.min(members.len()),
            members,
            lo: t.lo,
            target: t.target,
            then: Vec::new(),
            model: true,
        });
    }
    Ok(cells)
}

/// Raking on the logit scale: the candidates' scores plus the offset of every cell they are
/// in, each offset moved by a Newton step per sweep until every cell's expected count is at its
/// centre. Cells with no centre (ranges, bases of later rates) take no offset.
fn rake(cells: &[Cell], scores: Vec<f64>) -> Vec<f64> {
    let mut eta = scores;
    for _sweep in 0..400 {
        let mut worst: f64 = 0.0;
        for cell in cells {
            if cell.target.is_nan() {
                continue;
            }
            let (mut e, mut v) = (0.0, 0.0);
            for &k in &cell.members {
                let p = sigmoid(eta[k]);
                e += p;
                v += p * (1.0 - p);
            }
            worst = worst.max((e - cell.target).abs());
            let step = ((cell.target - e) / v.max(1e-9)).clamp(-2.0, 2.0);
            if step != 0.0 {
                for &k in &cell.members {
                    eta[k] += step;
                }
            }
        }
        if worst < 1e-3 {
            break;
        }
    }
    eta
}

/// The candidates with the highest latent values `key`: the exact total if there is one, else
/// as many as the raked probabilities `eta` expect.
fn highest(eta: &[f64], key: &[f64], total: Option<usize>) -> Vec<bool> {
    let n = key.len();
    let k_total = total
        .unwrap_or_else(|| eta.iter().map(|x| sigmoid(*x)).sum::<f64>().round() as usize)
        .min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| key[*b].total_cmp(&key[*a]).then(a.cmp(b)));
    let mut chosen = vec![false; n];
    for &k in order.iter().take(k_total) {
        chosen[k] = true;
    }
    chosen
}

/// What a cell holding `x` costs the repair: far outside its window most, then the distance
/// from its centre (a cell with no centre is indifferent inside its window).
fn cost(cell: &Cell, x: i64) -> f64 {
    let goal = (!cell.target.is_nan()).then(|| cell.target.round() as i64);
    let near = goal.map_or(0.0, |g| ((x - g) as f64).powi(2));
    1000.0 * cell.violation(x) as f64 + near
}

/// By how much each cell's count changes when the cells `add` gain a member and the cells
/// `remove` lose one (a cell in both does not change).
fn net_change(add: &[usize], remove: &[usize]) -> BTreeMap<usize, i64> {
    let mut change: BTreeMap<usize, i64> = BTreeMap::new();
    for &c in add {
        *change.entry(c).or_default() += 1;
    }
    for &c in remove {
        *change.entry(c).or_default() -= 1;
    }
    change
}

/// Change of the repair's objective when the cells in `add` gain one and those in `remove` lose
/// one.
fn objective_change(cells: &[Cell], count: &[i64], add: &[usize], remove: &[usize]) -> f64 {
    net_change(add, remove)
        .iter()
        .filter(|(_, d)| **d != 0)
        .map(|(c, d)| cost(&cells[*c], count[*c] + d) - cost(&cells[*c], count[*c]))
        .sum()
}

/// Candidates as (gain, latent order, position), best first; the position breaks ties so the
/// order never depends on the sort.
fn ranked(a: &(f64, f64, usize), b: &(f64, f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0)
        .then(a.1.total_cmp(&b.1))
        .then(a.2.cmp(&b.2))
}

/// A move of the repair: (objective change, loss in latent order, remove, add).
type Move = (f64, f64, Option<usize>, Option<usize>);

/// Exchanges single participants, always the move that most reduces the cells' distance from
/// their windows (then from their centres), until no move does. With `free_total` (no exact
/// total) a single addition or removal is a move too.
fn repair(
    cells: &[Cell],
    cells_of: &[Vec<usize>],
    key: &[f64],
    free_total: bool,
    chosen: &mut [bool],
    count: &mut [i64],
) {
    for _ in 0..20_000 {
        let Some((_, _, r, a)) = best_move(cells, cells_of, key, free_total, chosen, count) else {
            break;
        };
        if let Some(r) = r {
            chosen[r] = false;
            for &c in &cells_of[r] {
                count[c] -= 1;
            }
        }
        if let Some(a) = a {
            chosen[a] = true;
            for &c in &cells_of[a] {
                count[c] += 1;
            }
        }
    }
}

/// The repair's next move, if one improves the objective. Among equal moves the one that loses
/// least in latent order, so that the latent model decides what the margins leave free.
fn best_move(
    cells: &[Cell],
    cells_of: &[Vec<usize>],
    key: &[f64],
    free_total: bool,
    chosen: &[bool],
    count: &[i64],
) -> Option<Move> {
    const SHORTLIST: usize = 40;
    let mut to_remove: Vec<(f64, f64, usize)> = Vec::new();
    let mut to_add: Vec<(f64, f64, usize)> = Vec::new();
    for k in 0..chosen.len() {
        if chosen[k] {
            to_remove.push((objective_change(cells, count, &[], &cells_of[k]), key[k], k));
        } else {
            to_add.push((
                objective_change(cells, count, &cells_of[k], &[]),
                -key[k],
                k,
            ));
        }
    }
    to_remove.sort_by(ranked);
    to_add.sort_by(ranked);
    let mut best: Option<Move> = None;
    let consider =
        |best: &mut Option<Move>, d: f64, loss: f64, r: Option<usize>, a: Option<usize>| {
            if d < -1e-9
                && best.is_none_or(|b| d < b.0 - 1e-9 || ((d - b.0).abs() <= 1e-9 && loss < b.1))
            {
                *best = Some((d, loss, r, a));
            }
        };
    // The best-placed candidates first; only when none of them can be exchanged with profit, a
    // wider search (a cell may need a partner that fixes what the move breaks).
    for width in [SHORTLIST, 10 * SHORTLIST] {
        for &(_, _, r) in to_remove.iter().take(width) {
            for &(_, _, a) in to_add.iter().take(width) {
                let d = objective_change(cells, count, &cells_of[a], &cells_of[r]);
                consider(&mut best, d, key[r] - key[a], Some(r), Some(a));
            }
        }
        if free_total {
            if let Some(&(d, _, r)) = to_remove.first() {
                consider(&mut best, d, 0.0, Some(r), None);
            }
            if let Some(&(d, _, a)) = to_add.first() {
                consider(&mut best, d, 0.0, None, Some(a));
            }
        }
        if best.is_some() {
            break;
        }
    }
    best
}

/// Exchanges one selected and one unselected candidate at a time, the exchange that brings the
/// published estimates of `fit` nearest their targets, as long as that improves them and every
/// cell that is not a score-equation window stays allowed.
fn polish(
    fit: &ModelFit,
    pool: &[usize],
    cells: &[Cell],
    cells_of: &[Vec<usize>],
    key: &[f64],
    chosen: &mut [bool],
    count: &mut [i64],
) {
    const SHORTLIST: usize = 60;
    let n = pool.len();
    let directions: Vec<Option<Vec<f64>>> = pool.iter().map(|i| fit.direction(*i)).collect();
    let mut shift = {
        let mut selected = vec![false; fit.rows.keys().max().map_or(0, |m| m + 1)];
        for k in 0..n {
            if chosen[k] && pool[k] < selected.len() {
                selected[pool[k]] = true;
            }
        }
        fit.shift(|i| selected.get(i).copied().unwrap_or(false))
    };
    let mut loss = fit.loss(&shift);
    let zero = vec![0.0; shift.len()];
    let keeps = |count: &[i64], add: usize, remove: usize| {
        net_change(&cells_of[add], &cells_of[remove])
            .iter()
            .all(|(c, d)| *d == 0 || cells[*c].model || cells[*c].allowed(count[*c] + d))
    };
    for _ in 0..5_000 {
        // First-order gain of each candidate's move, to shortlist.
        let gain = |k: usize, sign: f64| -> f64 {
            directions[k].as_ref().map_or(0.0, |u| {
                fit.published
                    .iter()
                    .map(|&j| {
                        let s = fit.beta[j].exp().powi(2);
                        s * ((shift[j] + sign * u[j]).powi(2) - shift[j].powi(2))
                    })
                    .sum()
            })
        };
        let mut to_remove: Vec<(f64, f64, usize)> = (0..n)
            .filter(|k| chosen[*k])
            .map(|k| (gain(k, -1.0), key[k], k))
            .collect();
        let mut to_add: Vec<(f64, f64, usize)> = (0..n)
            .filter(|k| !chosen[*k])
            .map(|k| (gain(k, 1.0), -key[k], k))
            .collect();
        to_remove.sort_by(ranked);
        to_add.sort_by(ranked);
        // The most useful moves, and as partners also participants outside the sample (whose
        // move changes no estimate and so can balance a cell).
        let shortlist = |list: &[(f64, f64, usize)]| -> Vec<usize> {
            let mut out: Vec<usize> = list.iter().take(SHORTLIST).map(|x| x.2).collect();
            out.extend(
                list.iter()
                    .filter(|x| directions[x.2].is_none())
                    .take(SHORTLIST)
                    .map(|x| x.2),
            );
            out
        };
        let (to_remove, to_add) = (shortlist(&to_remove), shortlist(&to_add));
        let mut best: Option<(f64, usize, usize)> = None;
        for &r in &to_remove {
            for &a in &to_add {
                let ur = directions[r].as_ref().unwrap_or(&zero);
                let ua = directions[a].as_ref().unwrap_or(&zero);
                let next: Vec<f64> = (0..shift.len()).map(|j| shift[j] - ur[j] + ua[j]).collect();
                let l = fit.loss(&next);
                if l < loss - 1e-12 && best.is_none_or(|b| l < b.0) && keeps(count, a, r) {
                    best = Some((l, r, a));
                }
            }
        }
        let Some((l, r, a)) = best else {
            break;
        };
        let ur = directions[r].clone().unwrap_or_else(|| zero.clone());
        let ua = directions[a].clone().unwrap_or_else(|| zero.clone());
        for j in 0..shift.len() {
            shift[j] += ua[j] - ur[j];
        }
        loss = l;
        chosen[r] = false;
        chosen[a] = true;
        for &c in &cells_of[r] {
            count[c] -= 1;
        }
        for &c in &cells_of[a] {
            count[c] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn windows_round_to_the_published_percentage() {
        // 41% of 2,490: 40.5% is 1,008.45 and 41.5% is 1,033.35, so 1,009…1,033.
        assert_eq!(window(41.0, 2490), (1009, 1033));
        for n in [7usize, 50, 123, 1022, 2490] {
            for pct in [0.0, 21.0, 44.0, 59.0, 100.0] {
                let (lo, hi) = window(pct, n);
                for k in lo..=hi {
                    let r = 100.0 * k as f64 / n as f64;
                    assert!((r - pct).abs() < 0.5, "{k}/{n} vs {pct}");
                }
            }
        }
        assert_eq!(window(0.0, 30).0, 0);
    }
}
