//! Matching the units of one network to another's from their correlation matrix
//! (Li et al., "Convergent learning", papers.md section 9).
//!
//! - Greedy semi-matching: each unit of A takes its best-correlated unit of B; several
//!   units of A may take the same unit of B.
//! - One-to-one matching: the permutation maximising the summed correlation (the
//!   Hungarian algorithm with row and column potentials, O(n^3)). Written here rather
//!   than taken from `pathfinding`: that crate's proc-macro dependency turns on syn's
//!   full feature set, which rebuilds every derive macro of the workspace for ~40 lines.

use crate::train::loss::argmax;
use serde::Serialize;

/// Units with a match above this correlation count as having a counterpart.
pub const GOOD_MATCH: f64 = 0.5;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matching {
    /// For each unit of A, its unit of B.
    pub pairs: Vec<usize>,
    /// The matched values, one per unit of A.
    pub values: Vec<f64>,
    pub mean: f64,
    /// The fraction of A's units matched above [`GOOD_MATCH`].
    pub above_half: f64,
}

impl Matching {
    fn new(m: &[Vec<f64>], pairs: Vec<usize>) -> Matching {
        let values: Vec<f64> = pairs.iter().enumerate().map(|(i, &j)| m[i][j]).collect();
        let n = values.len().max(1) as f64;
        Matching {
            mean: values.iter().sum::<f64>() / n,
            above_half: values.iter().filter(|v| **v > GOOD_MATCH).count() as f64 / n,
            pairs,
            values,
        }
    }
}

/// Each row's best column (the first, on ties).
pub fn semi_matching(m: &[Vec<f64>]) -> Matching {
    let pairs = m.iter().map(|row| argmax(row.iter().copied())).collect();
    Matching::new(m, pairs)
}

/// The one-to-one matching of rows to columns with the largest sum. Needs at most as
/// many rows as columns (nnc compares layers of equal width).
pub fn bipartite_matching(m: &[Vec<f64>]) -> Matching {
    let pairs = hungarian_max(m);
    Matching::new(m, pairs)
}

/// For each row, its column in the assignment maximising the sum (rows <= columns).
/// The shortest-augmenting-path Hungarian algorithm on costs -m, 1-based internally
/// (index 0 is the virtual start), as in the classic e-maxx formulation. Index loops
/// keep it recognisably that algorithm.
#[allow(clippy::needless_range_loop)]
fn hungarian_max(m: &[Vec<f64>]) -> Vec<usize> {
    let n = m.len();
    let cols = m.first().map_or(0, Vec::len);
    assert!(n <= cols, "matching needs at most as many rows as columns");
    let cost = |i: usize, j: usize| {
        let v = m[i - 1][j - 1];
        if v.is_finite() {
            -v
        } else {
            0.0
        }
    };
    let (mut u, mut v) = (vec![0.0f64; n + 1], vec![0.0f64; cols + 1]);
    // p[j]: the row matched to column j (0: none); way[j]: previous column on the path.
    let (mut p, mut way) = (vec![0usize; cols + 1], vec![0usize; cols + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; cols + 1];
        let mut used = vec![false; cols + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=cols {
                if !used[j] {
                    let cur = cost(i0, j) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=cols {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut pairs = vec![0usize; n];
    for j in 1..=cols {
        if p[j] > 0 {
            pairs[p[j] - 1] = j - 1;
        }
    }
    pairs
}

/// Rows and columns reordered so the one-to-one matches lie on the diagonal, best match
/// first: the picture of a correlation matrix Li et al. show.
pub fn sorted_by_matching(m: &[Vec<f64>], matching: &Matching) -> Vec<Vec<f64>> {
    let mut order: Vec<usize> = (0..m.len()).collect();
    order.sort_by(|&a, &b| matching.values[b].total_cmp(&matching.values[a]));
    let mut cols: Vec<usize> = order.iter().map(|&i| matching.pairs[i]).collect();
    let n_cols = m.first().map_or(0, Vec::len);
    cols.extend((0..n_cols).filter(|j| !matching.pairs.contains(j)));
    order
        .iter()
        .map(|&i| cols.iter().map(|&j| m[i][j]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// papers.md section 9's hand-checked case.
    #[test]
    fn two_by_two_case() {
        let rho = vec![vec![0.9, 0.8], vec![0.85, 0.1]];
        let semi = semi_matching(&rho);
        assert_eq!(semi.pairs, vec![0, 0]);
        assert!((semi.mean - 0.875).abs() < 1e-12);
        let bip = bipartite_matching(&rho);
        assert_eq!(bip.pairs, vec![1, 0]);
        assert!((bip.mean - 0.825).abs() < 1e-12);
        assert_eq!(bip.above_half, 1.0);
    }

    #[test]
    fn permutation_is_recovered() {
        // A permuted identity with noise off the diagonal: the matching undoes the
        // permutation and semi-matching agrees with it.
        let perm = [3, 0, 4, 1, 2];
        let rho: Vec<Vec<f64>> = (0..5)
            .map(|i| {
                (0..5)
                    .map(|j| {
                        if perm[i] == j {
                            0.95
                        } else {
                            0.1 * ((i + j) % 3) as f64
                        }
                    })
                    .collect()
            })
            .collect();
        assert_eq!(bipartite_matching(&rho).pairs, perm.to_vec());
        assert_eq!(semi_matching(&rho).pairs, perm.to_vec());
        let sorted = sorted_by_matching(&rho, &bipartite_matching(&rho));
        assert!((0..5).all(|i| sorted[i][i] == 0.95));
    }

    /// Against every permutation of random 6x6 matrices.
    #[test]
    fn matches_brute_force() {
        fn permutations(k: usize, rest: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if rest.len() == k {
                out.push(rest.clone());
                return;
            }
            for j in 0..k {
                if !rest.contains(&j) {
                    rest.push(j);
                    permutations(k, rest, out);
                    rest.pop();
                }
            }
        }
        let mut all = Vec::new();
        permutations(6, &mut Vec::new(), &mut all);
        let mut state = 12345u64;
        for _ in 0..20 {
            let rho: Vec<Vec<f64>> = (0..6)
                .map(|_| {
                    (0..6)
                        .map(|_| {
                            state = state
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
                        })
                        .collect()
                })
                .collect();
            let best = all
                .iter()
                .map(|p| p.iter().enumerate().map(|(i, &j)| rho[i][j]).sum::<f64>())
                .fold(f64::NEG_INFINITY, f64::max);
            let got = bipartite_matching(&rho);
            assert!((got.mean * 6.0 - best).abs() < 1e-9, "{rho:?}");
        }
    }

    #[test]
    fn semi_matching_is_never_worse() {
        let rho = vec![
            vec![0.2, 0.9, 0.1],
            vec![0.3, 0.8, 0.7],
            vec![-0.5, 0.6, 0.4],
        ];
        let (semi, bip) = (semi_matching(&rho), bipartite_matching(&rho));
        assert!(semi.mean >= bip.mean);
        let mut used = bip.pairs.clone();
        used.sort();
        assert_eq!(used, vec![0, 1, 2]);
        // 0.9 + 0.3 + 0.4 = 1.6 beats the other five permutations (at most 1.5).
        assert_eq!(bip.pairs, vec![1, 0, 2]);
        assert!((bip.mean - 1.6 / 3.0).abs() < 1e-12);
    }
}
