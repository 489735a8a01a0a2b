//! The paper's video-sensor-network scenario (model §6): every vnode but the
//! sink streams R Mbit/s to the sink along a precomputed shortest-path tree.
//!
//! Routes are a BFS tree rooted at the sink; a vnode's parent is its
//! lowest-index neighbour one hop closer to the sink. A link carries the
//! flows that cross it (subtree size × R); a vnode's CPU is
//! c_proc × (Mbit it receives + Mbit it sends) per virtual second, so a relay
//! counts both. Vnodes the sink cannot reach (a disconnected topology) send
//! nothing.

use crate::cost::{Instance, Load};
use crate::model::{Costs, PerClass};
use rand::Rng;
use std::collections::VecDeque;

/// A shortest-path tree towards one sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Routes {
    pub sink: u32,
    /// Next hop towards the sink and the link used (`None`: the sink, or unreachable).
    pub parent: Vec<Option<(u32, u32)>>,
    /// Flows crossing each vnode's uplink: the vnodes of its subtree, itself
    /// included (0 for the sink and for unreachable vnodes).
    pub subtree: Vec<u32>,
    /// Vnodes that reach the sink, the sink included.
    pub reachable: u32,
}

/// Adjacency lists `(neighbour, link index)`, each sorted by neighbour index.
pub fn adjacency(inst: &Instance) -> Vec<Vec<(u32, u32)>> {
    let mut adj = vec![Vec::new(); inst.n_vnodes()];
    for (e, &(a, b)) in inst.links.iter().enumerate() {
        adj[a as usize].push((b, e as u32));
        adj[b as usize].push((a, e as u32));
    }
    for list in &mut adj {
        list.sort_unstable();
    }
    adj
}

/// The BFS routing tree towards `sink`; ties between equally short routes go
/// to the lowest-index neighbour.
///
/// Complexity: O(|vnodes| + |links|) plus the adjacency sort.
///
/// ```
/// use netbalance::model::{Testbed, Topology, Vnode, Link, Costs};
/// use netbalance::cost::Instance;
/// use netbalance::simulate::scenario::routes_to;
/// // a path n0 - n1 - n2, sink n2
/// let topo = Topology {
///     vnodes: vec![Vnode::new("n0"), Vnode::new("n1"), Vnode::new("n2")],
///     links: vec![Link::new("n0", "n1", 1000.0), Link::new("n1", "n2", 1000.0)],
/// };
/// let inst = Instance::new(&topo, &Testbed::generate(1, 1, 1e4), Costs::default());
/// let r = routes_to(&inst, 2);
/// assert_eq!(r.parent[0], Some((1, 0)));
/// assert_eq!(r.subtree, vec![1, 2, 0]);
/// ```
pub fn routes_to(inst: &Instance, sink: u32) -> Routes {
    let adj = adjacency(inst);
    routes_with(&adj, sink)
}

/// [`routes_to`] with a precomputed [`adjacency`] (for many sinks).
pub fn routes_with(adj: &[Vec<(u32, u32)>], sink: u32) -> Routes {
    let n = adj.len();
    let mut dist = vec![u32::MAX; n];
    let mut order = Vec::with_capacity(n);
    let mut queue = VecDeque::new();
    dist[sink as usize] = 0;
    queue.push_back(sink);
    while let Some(v) = queue.pop_front() {
        order.push(v);
        for &(w, _) in &adj[v as usize] {
            if dist[w as usize] == u32::MAX {
                dist[w as usize] = dist[v as usize] + 1;
                queue.push_back(w);
            }
        }
    }
    let mut parent = vec![None; n];
    for &v in &order[1..] {
        let d = dist[v as usize];
        // adjacency is sorted: the first neighbour one hop closer has the lowest index
        parent[v as usize] = adj[v as usize]
            .iter()
            .copied()
            .find(|&(w, _)| dist[w as usize] + 1 == d);
    }
    let mut subtree = vec![0u32; n];
    for &v in order.iter().rev() {
        if v == sink {
            continue;
        }
        subtree[v as usize] += 1;
        if let Some((p, _)) = parent[v as usize] {
            if p != sink {
                subtree[p as usize] += subtree[v as usize];
            }
        }
    }
    Routes {
        sink,
        parent,
        subtree,
        reachable: order.len() as u32,
    }
}

/// The load while every vnode streams `rate_mbps` to the sink.
///
/// ```
/// use netbalance::model::{Testbed, Topology, Vnode, Link, Costs};
/// use netbalance::cost::Instance;
/// use netbalance::simulate::scenario::{routes_to, sink_load};
/// let topo = Topology {
///     vnodes: vec![Vnode::new("n0"), Vnode::new("n1"), Vnode::new("n2")],
///     links: vec![Link::new("n0", "n1", 1000.0), Link::new("n1", "n2", 1000.0)],
/// };
/// let inst = Instance::new(&topo, &Testbed::generate(1, 1, 1e4), Costs::default());
/// let load = sink_load(&inst, &routes_to(&inst, 2), 10.0, 0.001);
/// assert_eq!(load.rate, vec![10.0, 20.0]);
/// // n1 receives 10 and sends 20 Mbit/s; the sink receives 20
/// assert!((load.cpu[1] - 0.030).abs() < 1e-12 && (load.cpu[2] - 0.020).abs() < 1e-12);
/// ```
pub fn sink_load(inst: &Instance, routes: &Routes, rate_mbps: f64, c_proc: f64) -> Load {
    let mut load = Load {
        cpu: vec![0.0; inst.n_vnodes()],
        rate: vec![0.0; inst.links.len()],
    };
    for (v, p) in routes.parent.iter().enumerate() {
        if let Some((_, e)) = *p {
            let sent = f64::from(routes.subtree[v]) * rate_mbps;
            load.rate[e as usize] = sent;
            load.cpu[v] = c_proc * (2.0 * sent - rate_mbps);
        }
    }
    load.cpu[routes.sink as usize] = c_proc * f64::from(routes.reachable.saturating_sub(1)) * rate_mbps;
    load
}

/// The paper profile of model §6: cheap per-Mbit CPU costs, so that τ stays in
/// the single digits and migration costs matter; migration phases as §3.
pub fn paper_costs() -> Costs {
    Costs {
        cpu_per_mbit: PerClass {
            vm: 1e-5,
            host: 4e-5,
            net: 8e-5,
        },
        source: Some("model §6 paper profile".to_string()),
        ..Costs::default()
    }
}

/// c_proc of the paper profile (CPU-seconds per Mbit received or sent).
pub const PAPER_C_PROC: f64 = 4e-5;
/// NIC bandwidth of the paper profile (Mbit/s).
pub const PAPER_NIC_MBPS: f64 = 40_000.0;

/// The sinks of `epochs` epochs: uniform over the vnodes, each different from
/// the one before (a sink *change*). O(epochs).
pub fn sink_sequence<R: Rng>(rng: &mut R, n_vnodes: usize, epochs: usize) -> Vec<u32> {
    let mut sinks: Vec<u32> = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        let s = match sinks.last() {
            Some(&prev) if n_vnodes > 1 => {
                let s = rng.gen_range(0..n_vnodes as u32 - 1);
                if s >= prev {
                    s + 1
                } else {
                    s
                }
            }
            _ => rng.gen_range(0..n_vnodes.max(1) as u32),
        };
        sinks.push(s);
    }
    sinks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Link, Testbed, Topology, Vnode};

    fn grid3() -> Instance {
        let vnodes = (0..9).map(|i| Vnode::new(format!("n{i}"))).collect();
        let mut links = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                let i = r * 3 + c;
                if c < 2 {
                    links.push(Link::new(format!("n{i}"), format!("n{}", i + 1), 1000.0));
                }
                if r < 2 {
                    links.push(Link::new(format!("n{i}"), format!("n{}", i + 3), 1000.0));
                }
            }
        }
        Instance::new(
            &Topology { vnodes, links },
            &Testbed::generate(1, 2, 1e4),
            Costs::default(),
        )
    }

    /// 3×3 grid, sink in the centre (n4), worked out by hand:
    /// n1 relays n0 and n2 (3 flows), n3 relays n6, n5 relays n8, n7 alone;
    /// n0 and n2 route via n1 (lower index than n3 / n5), n6 via n3, n8 via n5.
    #[test]
    fn grid_3x3_centre_sink_by_hand() {
        let inst = grid3();
        let r = routes_to(&inst, 4);
        let parents: Vec<Option<u32>> = r.parent.iter().map(|p| p.map(|(v, _)| v)).collect();
        assert_eq!(
            parents,
            vec![
                Some(1),
                Some(4),
                Some(1),
                Some(4),
                None,
                Some(4),
                Some(3),
                Some(4),
                Some(5)
            ]
        );
        let load = sink_load(&inst, &r, 10.0, 0.5);
        let rate = |a: u32, b: u32| load.rate[inst.link(a, b).unwrap() as usize];
        assert_eq!(
            (rate(1, 4), rate(3, 4), rate(5, 4), rate(7, 4)),
            (30.0, 20.0, 20.0, 10.0)
        );
        assert_eq!(
            (rate(0, 1), rate(2, 1), rate(3, 6), rate(5, 8)),
            (10.0, 10.0, 10.0, 10.0)
        );
        assert_eq!((rate(0, 3), rate(2, 5), rate(6, 7), rate(7, 8)), (0.0, 0.0, 0.0, 0.0));
        // cpu = 0.5 × (received + sent): sink receives 80; n1 receives 20, sends 30
        let expect = [5.0, 25.0, 5.0, 15.0, 40.0, 15.0, 5.0, 5.0, 5.0];
        for (v, e) in expect.iter().enumerate() {
            assert!((load.cpu[v] - e).abs() < 1e-12, "vnode {v}: {} != {e}", load.cpu[v]);
        }
    }

    #[test]
    fn corner_sink_ties_go_to_lowest_index() {
        let inst = grid3();
        let r = routes_to(&inst, 0);
        // n4 is two hops from n0 via n1 or n3: n1 wins
        assert_eq!(r.parent[4].map(|p| p.0), Some(1));
        assert_eq!(r.parent[8].map(|p| p.0), Some(5));
        assert_eq!(r.reachable, 9);
    }

    #[test]
    fn unreachable_vnodes_send_nothing() {
        let topo = Topology {
            vnodes: (0..3).map(|i| Vnode::new(format!("n{i}"))).collect(),
            links: vec![Link::new("n0", "n1", 1.0)],
        };
        let inst = Instance::new(&topo, &Testbed::generate(1, 1, 1e4), Costs::default());
        let load = sink_load(&inst, &routes_to(&inst, 0), 10.0, 1.0);
        assert_eq!(load.rate, vec![10.0]);
        assert_eq!(load.cpu, vec![10.0, 10.0, 0.0]);
    }

    #[test]
    fn sinks_change_every_epoch() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let s = sink_sequence(&mut rng, 3, 200);
        assert!(s.windows(2).all(|w| w[0] != w[1]));
        assert!((0..3).all(|v| s.contains(&v)));
    }
}
