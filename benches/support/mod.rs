//! Bench-local stand-in until `netbalance::simulate::scenario` (simulate
//! engineer) is on main, then the lead dedupes: the SPEC §6 scenario load
//! (every vnode streams to a sink along a BFS tree) and the paper costs.

use netbalance::cost::{Instance, Load};
use netbalance::model::{Costs, PerClass};
use std::collections::VecDeque;

/// SPEC §6 paper profile.
pub fn paper_costs() -> Costs {
    Costs { cpu_per_mbit: PerClass { vm: 1e-5, host: 4e-5, net: 8e-5 }, ..Costs::default() }
}

/// Parent of every vnode in the BFS shortest-path tree to `sink` (ties: the
/// lowest-index neighbour one hop closer); `None` for the sink and the unreachable.
pub fn routes_to(inst: &Instance, sink: u32) -> Vec<Option<u32>> {
    let n = inst.n_vnodes();
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in &inst.links {
        adj[a as usize].push(b);
        adj[b as usize].push(a);
    }
    let mut dist = vec![u32::MAX; n];
    dist[sink as usize] = 0;
    let mut q = VecDeque::from([sink]);
    while let Some(u) = q.pop_front() {
        for &v in &adj[u as usize] {
            if dist[v as usize] == u32::MAX {
                dist[v as usize] = dist[u as usize] + 1;
                q.push_back(v);
            }
        }
    }
    (0..n)
        .map(|i| {
            if i as u32 == sink || dist[i] == u32::MAX {
                return None;
            }
            adj[i].iter().copied().filter(|&v| dist[v as usize] + 1 == dist[i]).min()
        })
        .collect()
}

/// Every vnode but the sink streams `rate` Mbit/s to the sink along the
/// tree; cpu = c_proc · (Mbit received + sent).
pub fn sink_load(inst: &Instance, parent: &[Option<u32>], rate: f64, c_proc: f64) -> Load {
    let n = inst.n_vnodes();
    // Flows through each vnode (its own plus its subtree's), children before parents.
    let depth: Vec<usize> = (0..n)
        .map(|i| {
            let (mut d, mut v) = (0, i);
            while let Some(p) = parent[v] {
                d += 1;
                v = p as usize;
            }
            d
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(depth[i]));
    let mut flows = vec![0.0f64; n];
    let mut recv = vec![0.0f64; n];
    let mut load = Load { cpu: vec![0.0; n], rate: vec![0.0; inst.links.len()] };
    for &i in &order {
        if let Some(p) = parent[i] {
            flows[i] += rate;
            let l = inst.link(i as u32, p).expect("tree edge is a link") as usize;
            load.rate[l] = flows[i];
            flows[p as usize] += flows[i];
            recv[p as usize] += flows[i];
            load.cpu[i] += c_proc * flows[i];
        }
    }
    for (cpu, r) in load.cpu.iter_mut().zip(&recv) {
        *cpu += c_proc * r;
    }
    load
}
