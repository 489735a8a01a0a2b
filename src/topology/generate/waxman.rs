//! Waxman random graphs (Waxman 1988, in BRITE's parametrisation).

use super::numbered;
use crate::model::Topology;
use petgraph::unionfind::UnionFind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` nodes placed uniformly in the unit square; each pair (u, v) is linked
/// with probability `α·exp(−d(u,v) / (β·L))`, L = √2 the largest possible
/// distance (BRITE's form: α scales the density, β the share of long links;
/// BRITE's defaults are α = 0.15, β = 0.2). Components left apart are then
/// joined to the rest by their geometrically closest pair of nodes, so the
/// result is always connected. Ids `n0`…`n{n-1}`.
///
/// ```
/// use netbalance::topology::generate::waxman;
/// let t = waxman(200, 0.15, 0.2, 1);
/// assert_eq!(t.vnodes.len(), 200);
/// assert_eq!(t, waxman(200, 0.15, 0.2, 1)); // same seed, same graph
/// ```
/// Complexity: O(n²) time (every pair is drawn), O(n + m) memory.
pub fn waxman(n: usize, alpha: f64, beta: f64, seed: u64) -> Topology {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let points: Vec<(f64, f64)> = (0..n).map(|_| (rng.gen::<f64>(), rng.gen::<f64>())).collect();
    let scale = beta * std::f64::consts::SQRT_2;
    let mut edges = Vec::new();
    for u in 0..n {
        for v in u + 1..n {
            let p = alpha * (-distance(points[u], points[v]) / scale).exp();
            if rng.gen::<f64>() < p {
                edges.push((u, v));
            }
        }
    }
    connect_nearest(&points, &mut edges);
    numbered(n, &edges)
}

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// Join every component to the one holding node 0, component by component
/// (in order of their lowest node), by the closest pair of points.
/// O(n²) in the worst case.
fn connect_nearest(points: &[(f64, f64)], edges: &mut Vec<(usize, usize)>) {
    let n = points.len();
    let mut uf = UnionFind::<usize>::new(n);
    for &(a, b) in edges.iter() {
        uf.union(a, b);
    }
    for start in 1..n {
        if uf.equiv(start, 0) {
            continue;
        }
        let (inside, outside): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| uf.equiv(i, start));
        let linked: Vec<usize> = outside.into_iter().filter(|&i| uf.equiv(i, 0)).collect();
        let (u, v) = inside
            .iter()
            .flat_map(|&u| linked.iter().map(move |&v| (u, v)))
            .min_by(|&(a, b), &(c, d)| distance(points[a], points[b]).total_cmp(&distance(points[c], points[d])))
            .expect("both sides are non-empty");
        edges.push((u.min(v), u.max(v)));
        uf.union(u, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::generate::tests::check;

    #[test]
    fn density_follows_alpha_and_isolated_nodes_are_joined() {
        let dense = waxman(300, 0.6, 0.3, 3);
        let sparse = waxman(300, 0.05, 0.3, 3);
        assert!(
            dense.links.len() > 5 * sparse.links.len(),
            "{} vs {}",
            dense.links.len(),
            sparse.links.len()
        );
        // α = 0: no random links at all; only the n − 1 joining links remain.
        let tree = waxman(50, 0.0, 0.2, 3);
        assert_eq!(tree.links.len(), 49);
        check(&tree);
        check(&dense);
        assert_ne!(waxman(100, 0.15, 0.2, 1), waxman(100, 0.15, 0.2, 2));
    }
}
