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
use crate::config::{Rate, Rates};
use crate::person::{Ctx, Person};
use crate::traits::infeasible;

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
    let mut cells: Vec<Cell> = Vec::new();
    // Cells from the published rates.
    for (dim, by_value) in spec.rates {
        for (value, rate) in by_value {
            let in_cell = |i: usize| ctx.recorded_dim(&persons[i], dim).as_deref() == Some(value);
            let base = spec.base.iter().filter(|i| in_cell(**i)).count();
            let members: Vec<usize> = (0..n).filter(|k| in_cell(pool[*k])).collect();
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
                return Err(infeasible(
                    ctx,
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
            });
        }
    }
    // Cells only the later outcomes' rates name: no window of their own.
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
    for (dim, value) in extra {
        let then = chain(spec.then, dim, value);
        if then.is_empty() {
            continue;
        }
        let in_cell = |i: usize| ctx.recorded_dim(&persons[i], dim).as_deref() == Some(value);
        let members: Vec<usize> = (0..n).filter(|k| in_cell(pool[*k])).collect();
        cells.push(Cell {
            label: format!("{dim} = {value} (base of {then:?}% rates)"),
            base: spec.base.iter().filter(|i| in_cell(**i)).count(),
            lo: 0,
            hi: members.len(),
            target: f64::NAN,
            then,
            members,
        });
    }
    for t in spec.counts {
        let members: Vec<usize> = (0..n)
            .filter(|k| ctx.recorded_dim(&persons[pool[*k]], t.dim).as_deref() == Some(t.value))
            .collect();
        let label = format!("{} = {} ({} exactly)", t.dim, t.value, t.count);
        if t.count > members.len() {
            return Err(infeasible(
                ctx,
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
        });
    }
    if let Some(k) = spec.total {
        if k > n {
            return Err(infeasible(
                ctx,
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
        });
    }
    let mut cells_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, cell) in cells.iter().enumerate() {
        for &k in &cell.members {
            cells_of[k].push(c);
        }
    }

    // 2. Raking on the logit scale.
    let scores: Vec<f64> = pool.iter().map(|i| score(*i)).collect();
    let mut offset = vec![0.0f64; cells.len()];
    let mut eta = scores.clone();
    for _sweep in 0..400 {
        let mut worst: f64 = 0.0;
        for (c, cell) in cells.iter().enumerate() {
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
                offset[c] += step;
                for &k in &cell.members {
                    eta[k] += step;
                }
            }
        }
        if worst < 1e-3 {
            break;
        }
    }

    // 3. Exact selection: the K highest latent values, then repair. A repair can end in a local
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
        let k_total = spec
            .total
            .unwrap_or_else(|| eta.iter().map(|x| sigmoid(*x)).sum::<f64>().round() as usize)
            .min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| key[*b].total_cmp(&key[*a]).then(a.cmp(b)));
        let mut chosen = vec![false; n];
        for &k in order.iter().take(k_total) {
            chosen[k] = true;
        }
        let mut count: Vec<i64> = vec![0; cells.len()];
        for (c, cell) in cells.iter().enumerate() {
            count[c] = cell.members.iter().filter(|k| chosen[**k]).count() as i64;
        }
        let goal: Vec<Option<i64>> = cells
            .iter()
            .map(|c| (!c.target.is_nan()).then(|| c.target.round() as i64))
            .collect();
        let cost = |c: usize, x: i64| -> f64 {
            let near = goal[c].map_or(0.0, |g| ((x - g) as f64).powi(2));
            1000.0 * cells[c].violation(x) as f64 + near
        };
        let delta = |count: &[i64], add: &[usize], remove: &[usize]| -> f64 {
            // Change of the objective when the cells in `add` gain one and those in `remove` lose one.
            let mut change: BTreeMap<usize, i64> = BTreeMap::new();
            for &c in add {
                *change.entry(c).or_default() += 1;
            }
            for &c in remove {
                *change.entry(c).or_default() -= 1;
            }
            change
                .iter()
                .filter(|(_, d)| **d != 0)
                .map(|(c, d)| cost(*c, count[*c] + d) - cost(*c, count[*c]))
                .sum()
        };
        const SHORTLIST: usize = 40;
        for _ in 0..20_000 {
            let mut ins: Vec<(f64, f64, usize)> = Vec::new();
            let mut outs: Vec<(f64, f64, usize)> = Vec::new();
            for k in 0..n {
                if chosen[k] {
                    ins.push((delta(&count, &[], &cells_of[k]), key[k], k));
                } else {
                    outs.push((delta(&count, &cells_of[k], &[]), -key[k], k));
                }
            }
            let by = |a: &(f64, f64, usize), b: &(f64, f64, usize)| {
                a.0.total_cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then(a.2.cmp(&b.2))
            };
            ins.sort_by(by);
            outs.sort_by(by);
            // (objective change, loss in latent order, remove, add)
            let mut best: Option<(f64, f64, Option<usize>, Option<usize>)> = None;
            type Move = (f64, f64, Option<usize>, Option<usize>);
            let consider =
                |best: &mut Option<Move>, d: f64, loss: f64, r: Option<usize>, a: Option<usize>| {
                    if d < -1e-9
                        && best.is_none_or(|b| {
                            d < b.0 - 1e-9 || ((d - b.0).abs() <= 1e-9 && loss < b.1)
                        })
                    {
                        *best = Some((d, loss, r, a));
                    }
                };
            // The best-placed candidates first; only when none of them can be exchanged with
            // profit, a wider search (a cell may need a partner that fixes what the move breaks).
            for width in [SHORTLIST, 10 * SHORTLIST] {
                for &(_, _, r) in ins.iter().take(width) {
                    for &(_, _, a) in outs.iter().take(width) {
                        let d = delta(&count, &cells_of[a], &cells_of[r]);
                        consider(&mut best, d, key[r] - key[a], Some(r), Some(a));
                    }
                }
                if spec.total.is_none() {
                    if let Some(&(d, _, r)) = ins.first() {
                        consider(&mut best, d, 0.0, Some(r), None);
                    }
                    if let Some(&(d, _, a)) = outs.first() {
                        consider(&mut best, d, 0.0, None, Some(a));
                    }
                }
                if best.is_some() {
                    break;
                }
            }
            let Some((_, _, r, a)) = best else {
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
        let misses: Vec<String> = cells
            .iter()
            .zip(&count)
            .filter(|(c, x)| c.violation(**x) > 0)
            .map(|(c, x)| format!("{}: {x} of {}, not {}–{}", c.label, c.base, c.lo, c.hi))
            .collect();
        if misses.is_empty() {
            return Ok((0..n).filter(|k| chosen[*k]).map(|k| pool[k]).collect());
        }
        last = misses;
    }
    Err(infeasible(
        ctx,
        spec.what,
        format!(
            "the published cells cannot all be met after {ATTEMPTS} attempts: {}",
            last.join("; ")
        ),
    ))
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
