//! Synthetic topologies (model §1): grid, Waxman, campus and Internet-like,
//! deterministic for a seed (ChaCha8Rng) and always connected. Every vnode
//! gets [`Attributes::default`] (10 MB) and every link 1000 Mbit/s, 1 ms.

mod campus;
mod internet;
mod waxman;

pub use campus::{campus, CAMPUS_NODES};
pub use internet::internet;
pub use waxman::waxman;

use super::build::Attributes;
use crate::model::{Link, Topology, Vnode};

/// The paper's four topologies, by name, at the paper's sizes.
pub const PAPER_NAMES: [&str; 4] = ["grid", "waxman", "campus", "internet"];

/// The Waxman (α, β) of the paper preset. BRITE's α = 0.15 with β = 0.03
/// gives 2,500 nodes a mean degree of about 3.9, as in the 40×40 grid and
/// near the Internet topology's 4.2. BRITE's default β = 0.2 would give
/// about 105,000 links (mean degree 84, diameter 3) at that size: not a
/// network one emulates hop by hop.
pub const PAPER_WAXMAN: (f64, f64) = (0.15, 0.03);

/// A `width` × `height` grid: ids `n{i}` in row-major order, links to the
/// right and downward neighbour (4-neighbourhood).
///
/// ```
/// let t = netbalance::topology::generate::grid(40, 40);
/// assert_eq!(t.vnodes.len(), 1600);
/// assert_eq!(t.links.len(), 2 * 40 * 39);
/// assert_eq!(t.vnodes[41].id, "n41"); // row 1, column 1
/// ```
/// Complexity: O(width · height).
pub fn grid(width: usize, height: usize) -> Topology {
    let n = width * height;
    let mut edges = Vec::with_capacity(2 * n);
    for row in 0..height {
        for col in 0..width {
            let i = row * width + col;
            if col + 1 < width {
                edges.push((i, i + 1));
            }
            if row + 1 < height {
                edges.push((i, i + width));
            }
        }
    }
    numbered(n, &edges)
}

/// The paper's topologies by name: `grid` (40×40 = 1,600 nodes), `waxman`
/// (2,500 nodes, [`PAPER_WAXMAN`]), `campus` (10 campuses = 5,480 nodes),
/// `internet` (2,113 nodes). `None` for any other name.
///
/// ```
/// use netbalance::topology::generate::paper;
/// assert_eq!(paper("grid", 1).unwrap().vnodes.len(), 1600);
/// assert!(paper("torus", 1).is_none());
/// ```
/// Complexity: that of the generator (Waxman is O(n²)).
pub fn paper(name: &str, seed: u64) -> Option<Topology> {
    match name {
        "grid" => Some(grid(40, 40)),
        "waxman" => Some(waxman(2500, PAPER_WAXMAN.0, PAPER_WAXMAN.1, seed)),
        "campus" => Some(campus(10, seed)),
        "internet" => Some(internet(2113, seed)),
        _ => None,
    }
}

/// A topology on `n` vnodes `n0`…`n{n-1}` with the given (distinct, loop-free) edges.
pub(crate) fn numbered(n: usize, edges: &[(usize, usize)]) -> Topology {
    let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    with_ids(ids, edges)
}

/// A topology with the given ids and edges, with the default attributes.
pub(crate) fn with_ids(ids: Vec<String>, edges: &[(usize, usize)]) -> Topology {
    let d = Attributes::default();
    let links = edges
        .iter()
        .map(|&(a, b)| Link {
            delay_ms: d.delay_ms,
            ..Link::new(ids[a].clone(), ids[b].clone(), d.mbps)
        })
        .collect();
    let vnodes = ids
        .into_iter()
        .map(|id| Vnode {
            memory_mb: d.memory_mb,
            ..Vnode::new(id)
        })
        .collect();
    Topology { vnodes, links }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::topology::stats::Stats;
    use proptest::prelude::*;

    /// The invariants every generator keeps.
    pub(crate) fn check(t: &Topology) {
        t.validate("<generated>").expect("valid");
        let s = Stats::of(t);
        assert_eq!(s.components, usize::from(!t.vnodes.is_empty()), "connected");
    }

    #[test]
    fn grid_links_are_the_four_neighbours() {
        let t = grid(3, 2);
        let pairs: Vec<_> = t.links.iter().map(|l| (l.a.as_str(), l.b.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("n0", "n1"),
                ("n0", "n3"),
                ("n1", "n2"),
                ("n1", "n4"),
                ("n2", "n5"),
                ("n3", "n4"),
                ("n4", "n5")
            ]
        );
        check(&t);
        check(&grid(0, 5));
        check(&grid(1, 1));
    }

    #[test]
    fn paper_sizes_are_exact() {
        for (name, n) in PAPER_NAMES.iter().zip([1600, 2500, 5480, 2113]) {
            let t = paper(name, 7).unwrap();
            assert_eq!(t.vnodes.len(), n, "{name}");
            check(&t);
            assert!(t.vnodes.iter().all(|v| v.memory_mb == 10.0));
            assert!(t.links.iter().all(|l| l.mbps == 1000.0 && l.delay_ms == 1.0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn grids_are_connected_and_valid(w in 0usize..12, h in 0usize..12) {
            let t = grid(w, h);
            prop_assert_eq!(t.vnodes.len(), w * h);
            prop_assert_eq!(t.links.len(), w.saturating_sub(1) * h + h.saturating_sub(1) * w);
            check(&t);
        }

        #[test]
        fn generators_are_connected_valid_and_seed_deterministic(n in 0usize..150, k in 0usize..4, seed in any::<u64>()) {
            for make in [
                &(|s| waxman(n, 0.15, 0.2, s)) as &dyn Fn(u64) -> Topology,
                &|s| internet(n, s),
                &|s| campus(k, s),
            ] {
                let t = make(seed);
                check(&t);
                prop_assert_eq!(&t, &make(seed));
            }
        }
    }
}
