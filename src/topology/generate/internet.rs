//! Internet-like graphs: Generalized Linear Preference (GLP, Bu & Towsley
//! 2002), a preferential-attachment model fitted to the Internet's
//! heavy-tailed degree distribution.

use super::numbered;
use crate::model::Topology;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// GLP's fitted parameters (Bu & Towsley): links per step m = 1.13, chance
/// of a step adding links between existing nodes p = 0.4695, preference
/// offset β = 0.6447 (a node is chosen with probability ∝ degree − β).
const M: f64 = 1.13;
const P_LINKS_ONLY: f64 = 0.4695;
const BETA: f64 = 0.6447;
/// The seed graph: a path over this many nodes.
const M0: usize = 10;
/// Tries to find a new (non-duplicate) link before a step gives up.
const TRIES: usize = 32;

/// An `n`-node GLP graph: starting from a path of 10 nodes, each step
/// either (probability p) adds m links between existing nodes, or adds a
/// node with m links; endpoints are chosen with probability ∝ degree − β.
/// m = 1.13 is met on average (one link, a second with probability 0.13).
/// Every new node links to an existing one, so the graph is connected. Ids
/// `n0`…`n{n-1}`, in order of arrival (low ids are the old, well-connected core).
///
/// ```
/// use netbalance::topology::generate::internet;
/// let t = internet(2113, 1);
/// assert_eq!(t.vnodes.len(), 2113);
/// assert!(t.links.len() > 2112); // connected, and more than a tree
/// ```
/// Complexity: O(n) expected steps, each O(1) expected (rejection sampling
/// over the list of link endpoints); O(n) memory.
pub fn internet(n: usize, seed: u64) -> Topology {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Growing::default();
    for i in 0..n.min(M0) {
        g.degree.push(0);
        if i > 0 {
            g.link(i - 1, i);
        }
    }
    while g.degree.len() < n {
        let links = 1 + usize::from(rng.gen::<f64>() < M.fract());
        if rng.gen::<f64>() < P_LINKS_ONLY {
            for _ in 0..links {
                g.try_link(&mut rng, None);
            }
        } else {
            let new = g.degree.len();
            g.degree.push(0);
            for _ in 0..links {
                g.try_link(&mut rng, Some(new));
            }
        }
    }
    numbered(n, &g.edges)
}

#[derive(Default)]
struct Growing {
    degree: Vec<usize>,
    /// Every link's two endpoints: a uniform pick is a pick ∝ degree.
    ends: Vec<usize>,
    edges: Vec<(usize, usize)>,
    present: HashSet<(usize, usize)>,
}

impl Growing {
    fn link(&mut self, a: usize, b: usize) {
        self.degree[a] += 1;
        self.degree[b] += 1;
        self.ends.extend([a, b]);
        self.edges.push((a.min(b), a.max(b)));
        self.present.insert((a.min(b), a.max(b)));
    }

    /// A node with probability ∝ degree − β: a pick ∝ degree, kept with
    /// probability (degree − β) / degree (at least 1 − β).
    fn preferred(&self, rng: &mut ChaCha8Rng) -> usize {
        loop {
            let x = self.ends[rng.gen_range(0..self.ends.len())];
            let d = self.degree[x] as f64;
            if rng.gen::<f64>() * d < d - BETA {
                return x;
            }
        }
    }

    /// Add one new link from `from` (or between two preferred nodes); gives
    /// up after a few duplicates. Only called once the seed path has links.
    fn try_link(&mut self, rng: &mut ChaCha8Rng, from: Option<usize>) {
        for _ in 0..TRIES {
            let a = from.unwrap_or_else(|| self.preferred(rng));
            let b = self.preferred(rng);
            if a != b && !self.present.contains(&(a.min(b), a.max(b))) {
                self.link(a, b);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::stats::Stats;

    #[test]
    fn degrees_are_heavy_tailed() {
        let t = internet(2113, 1);
        let s = Stats::of(&t);
        assert_eq!(s.components, 1);
        // GLP's mean degree is about 2m/(1 − p) ≈ 4.3; hubs reach far beyond it.
        assert!((3.0..6.0).contains(&s.degree_mean), "{s:?}");
        assert!(s.degree_max as f64 > 15.0 * s.degree_mean, "{s:?}");
        assert_eq!(s.degree_min, 1);
    }
}
