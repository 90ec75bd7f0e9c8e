//! Exact allocation: turning published shares into whole counts and choosing exactly that many
//! participants.
//!
//! The twin hits the report's published counts exactly, so nothing here flips independent coins:
//! shares become counts by largest remainder (one margin) or by iterative proportional fitting
//! plus controlled rounding (two margins), and "k participants have X" is a weighted sample of
//! exactly k without replacement, where the weights carry the correlations (cohort, lot, …).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Splits `total` into whole counts proportional to `shares` (Hamilton's method). Ties in the
/// remainders go to the earlier share, so the result depends only on the inputs.
pub(crate) fn largest_remainder(total: usize, shares: &[f64]) -> Vec<usize> {
    let sum: f64 = shares.iter().filter(|s| **s > 0.0).sum();
    if shares.is_empty() || sum <= 0.0 {
        return vec![0; shares.len()];
    }
    let exact: Vec<f64> = shares
        .iter()
        .map(|s| s.max(0.0) / sum * total as f64)
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let assigned: usize = counts.iter().sum();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(assigned)) {
        counts[i] += 1;
    }
    counts
}

/// Iterative proportional fitting: scales `m` until its row and column sums match the targets.
/// Rows or columns whose target is zero become zero.
pub(crate) fn ipf(m: &mut [Vec<f64>], rows: &[f64], cols: &[f64]) {
    for _ in 0..500 {
        for (row, target) in m.iter_mut().zip(rows) {
            let sum: f64 = row.iter().sum();
            let f = if sum > 0.0 { target / sum } else { 0.0 };
            row.iter_mut().for_each(|x| *x *= f);
        }
        let mut worst: f64 = 0.0;
        for (j, target) in cols.iter().enumerate() {
            let sum: f64 = m.iter().map(|r| r[j]).sum();
            let f = if sum > 0.0 { target / sum } else { 0.0 };
            worst = worst.max((sum - target).abs());
            m.iter_mut().for_each(|r| r[j] *= f);
        }
        if worst < 1e-9 {
            break;
        }
    }
}

/// Rounds a real matrix whose margins are (close to) `rows` and `cols` to whole numbers with
/// exactly those margins: floors every cell, then hands out the missing units to the cells with
/// the largest fractional parts whose row and column still lack units.
///
/// Returns `None` when the margins disagree (their totals differ or a floor already exceeds one).
pub(crate) fn controlled_round(
    m: &[Vec<f64>],
    rows: &[usize],
    cols: &[usize],
) -> Option<Vec<Vec<usize>>> {
    if rows.iter().sum::<usize>() != cols.iter().sum::<usize>() {
        return None;
    }
    let mut out: Vec<Vec<usize>> = m
        .iter()
        .map(|r| r.iter().map(|x| x.max(0.0).floor() as usize).collect())
        .collect();
    let mut row_need: Vec<i64> = Vec::with_capacity(rows.len());
    for (i, target) in rows.iter().enumerate() {
        row_need.push(*target as i64 - out[i].iter().sum::<usize>() as i64);
    }
    let mut col_need: Vec<i64> = Vec::with_capacity(cols.len());
    for (j, target) in cols.iter().enumerate() {
        col_need.push(*target as i64 - out.iter().map(|r| r[j]).sum::<usize>() as i64);
    }
    if row_need.iter().chain(&col_need).any(|n| *n < 0) {
        return None;
    }
    let mut cells: Vec<(usize, usize, f64)> = Vec::new();
    for (i, r) in m.iter().enumerate() {
        for (j, x) in r.iter().enumerate() {
            cells.push((i, j, x.max(0.0) - x.max(0.0).floor()));
        }
    }
    cells.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    for &(i, j, frac) in &cells {
        if frac > 0.0 && row_need[i] > 0 && col_need[j] > 0 {
            out[i][j] += 1;
            row_need[i] -= 1;
            col_need[j] -= 1;
        }
    }
    // Whatever is left goes to any cell whose row and column both still lack units; the totals
    // agree, so such a pair exists while anything is missing.
    for i in 0..rows.len() {
        while row_need[i] > 0 {
            let j = (0..cols.len()).find(|&j| col_need[j] > 0)?;
            out[i][j] += 1;
            row_need[i] -= 1;
            col_need[j] -= 1;
        }
    }
    Some(out)
}

/// Chooses exactly `k` of `candidates`, each with probability growing with its weight, without
/// replacement (Efraimidis–Spirakis keys). Weight zero is never chosen. Returns `None` when fewer
/// than `k` candidates have a positive weight. The result keeps the candidates' order.
pub(crate) fn weighted_pick(
    rng: &mut ChaCha8Rng,
    candidates: &[usize],
    k: usize,
    mut weight: impl FnMut(usize) -> f64,
) -> Option<Vec<usize>> {
    if k == 0 {
        return Some(Vec::new());
    }
    let mut keyed: Vec<(f64, usize, usize)> = Vec::with_capacity(candidates.len());
    for (pos, &c) in candidates.iter().enumerate() {
        // Draw for every candidate, chosen or not, so the stream does not depend on weights.
        let u: f64 = 1.0 - rng.random::<f64>();
        let w = weight(c);
        if w > 0.0 && w.is_finite() {
            keyed.push((u.ln() / w, pos, c));
        }
    }
    if keyed.len() < k {
        return None;
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.truncate(k);
    keyed.sort_by_key(|x| x.1);
    Some(keyed.into_iter().map(|x| x.2).collect())
}

/// Picks one index with probability proportional to `weights`; `None` if all are zero.
pub(crate) fn weighted_index(rng: &mut ChaCha8Rng, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.random::<f64>() * total;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            last = Some(i);
            if x < *w {
                return Some(i);
            }
            x -= w;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn largest_remainder_hits_the_total() {
        let c = largest_remainder(3957, &[0.53, 0.47]);
        assert_eq!(c, vec![2097, 1860]);
        let c = largest_remainder(10, &[1.0, 1.0, 1.0]);
        assert_eq!(c.iter().sum::<usize>(), 10);
        assert_eq!(c, vec![4, 3, 3]);
    }

    #[test]
    fn controlled_rounding_keeps_both_margins() {
        let mut m = vec![
            vec![1.0, 2.0, 3.0],
            vec![4.0, 5.0, 6.0],
            vec![0.5, 0.5, 9.0],
        ];
        let rows = [100.0, 50.0, 37.0];
        let cols = [41.0, 70.0, 76.0];
        ipf(&mut m, &rows, &cols);
        let r = controlled_round(&m, &[100, 50, 37], &[41, 70, 76]).unwrap();
        for (i, t) in [100, 50, 37].iter().enumerate() {
            assert_eq!(r[i].iter().sum::<usize>(), *t);
        }
        for (j, t) in [41, 70, 76].iter().enumerate() {
            assert_eq!(r.iter().map(|x| x[j]).sum::<usize>(), *t);
        }
    }

    #[test]
    fn weighted_pick_is_exact_and_respects_zero_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cands: Vec<usize> = (0..100).collect();
        let got = weighted_pick(&mut rng, &cands, 40, |c| if c < 10 { 0.0 } else { 1.0 }).unwrap();
        assert_eq!(got.len(), 40);
        assert!(got.iter().all(|c| *c >= 10));
        assert!(weighted_pick(&mut rng, &cands, 95, |c| if c < 10 { 0.0 } else { 1.0 }).is_none());
    }
}
