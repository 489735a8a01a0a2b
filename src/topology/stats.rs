//! Summary figures of a topology, for `netbalance topology --stats` and tests.

use crate::model::Topology;
use petgraph::unionfind::UnionFind;
use serde::Serialize;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub nodes: usize,
    pub links: usize,
    pub degree_min: usize,
    pub degree_mean: f64,
    pub degree_max: usize,
    pub components: usize,
    /// A lower bound on the diameter (hops) of the component holding the
    /// first vnode, from repeated BFS sweeps; exact on trees and grids.
    pub diameter_estimate: usize,
}

/// Sweeps of the diameter estimate (each one BFS).
const SWEEPS: usize = 4;

impl Stats {
    /// Degrees, components (union-find) and a diameter estimate (double
    /// sweep: BFS from the farthest node found so far, a few times).
    ///
    /// ```
    /// use netbalance::topology::{generate::grid, stats::Stats};
    /// let s = Stats::of(&grid(4, 3));
    /// assert_eq!((s.nodes, s.links, s.degree_min, s.degree_max), (12, 17, 2, 4));
    /// assert_eq!((s.components, s.diameter_estimate), (1, 5));
    /// ```
    /// Complexity: O((n + m) · α(n)) plus four BFS, O(n + m) each.
    /// Assumes a validated topology (links name existing vnodes).
    pub fn of(t: &Topology) -> Stats {
        let index = t.index();
        let n = t.vnodes.len();
        let mut adjacency = vec![Vec::new(); n];
        let mut uf = UnionFind::<usize>::new(n);
        for l in &t.links {
            let (a, b) = (index[l.a.as_str()], index[l.b.as_str()]);
            adjacency[a].push(b);
            adjacency[b].push(a);
            uf.union(a, b);
        }
        let degrees = adjacency.iter().map(Vec::len);
        let mut roots = uf.into_labeling();
        roots.sort_unstable();
        roots.dedup();
        let mut diameter = 0;
        let mut from = 0;
        for _ in 0..SWEEPS.min(n) {
            let (far, depth) = farthest(&adjacency, from);
            if depth <= diameter && diameter > 0 {
                break;
            }
            diameter = depth;
            from = far;
        }
        Stats {
            nodes: n,
            links: t.links.len(),
            degree_min: degrees.clone().min().unwrap_or(0),
            degree_mean: if n == 0 {
                0.0
            } else {
                2.0 * t.links.len() as f64 / n as f64
            },
            degree_max: degrees.max().unwrap_or(0),
            components: roots.len(),
            diameter_estimate: diameter,
        }
    }
}

/// The node farthest (in hops) from `start`, and its distance.
fn farthest(adjacency: &[Vec<usize>], start: usize) -> (usize, usize) {
    let mut dist = vec![usize::MAX; adjacency.len()];
    dist[start] = 0;
    let mut queue = VecDeque::from([start]);
    let mut last = (start, 0);
    while let Some(u) = queue.pop_front() {
        last = (u, dist[u]);
        for &v in &adjacency[u] {
            if dist[v] == usize::MAX {
                dist[v] = dist[u] + 1;
                queue.push_back(v);
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Link, Vnode};

    #[test]
    fn counts_components_and_finds_a_path_diameter() {
        let mut t = Topology {
            vnodes: (0..6).map(|i| Vnode::new(format!("v{i}"))).collect(),
            links: vec![
                Link::new("v2", "v1", 1.0),
                Link::new("v1", "v0", 1.0),
                Link::new("v0", "v3", 1.0),
            ],
        };
        let s = Stats::of(&t);
        assert_eq!(
            (s.components, s.diameter_estimate, s.degree_min, s.degree_max),
            (3, 3, 0, 2)
        );
        t.links.push(Link::new("v3", "v4", 1.0));
        t.links.push(Link::new("v4", "v5", 1.0));
        assert_eq!(Stats::of(&t).diameter_estimate, 5);
        assert_eq!(Stats::of(&Topology::default()).components, 0);
    }
}
