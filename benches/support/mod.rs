//! Bench-local stand-ins until the shared pieces are on main (the lead
//! dedupes): the paper topologies (`topology::generate::paper`, topology
//! engineer) and the SPEC §6 scenario load (`simulate::scenario`, simulate
//! engineer).

use netbalance::cost::{Instance, Load};
use netbalance::model::{Costs, Link, PerClass, Topology, Vnode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

fn build(n: usize, edges: &[(usize, usize)]) -> Topology {
    let mut seen = std::collections::HashSet::new();
    let links = edges
        .iter()
        .filter(|&&(a, b)| a != b && seen.insert((a.min(b), a.max(b))))
        .map(|&(a, b)| {
            let mut l = Link::new(format!("n{a}"), format!("n{b}"), 1000.0);
            l.delay_ms = 1.0;
            l
        })
        .collect();
    Topology { vnodes: (0..n).map(|i| Vnode::new(format!("n{i}"))).collect(), links }
}

/// Join components with a link between consecutive ids where needed.
fn connect(n: usize, edges: &mut Vec<(usize, usize)>) {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    for &(a, b) in edges.iter() {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    for i in 0..n.saturating_sub(1) {
        let (ra, rb) = (find(&mut parent, i), find(&mut parent, i + 1));
        if ra != rb {
            parent[ra] = rb;
            edges.push((i, i + 1));
        }
    }
}

pub fn grid(w: usize, h: usize) -> Topology {
    let mut e = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if x + 1 < w {
                e.push((y * w + x, y * w + x + 1));
            }
            if y + 1 < h {
                e.push((y * w + x, (y + 1) * w + x));
            }
        }
    }
    build(w * h, &e)
}

pub fn waxman(n: usize, alpha: f64, beta: f64, seed: u64) -> Topology {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p: Vec<(f64, f64)> = (0..n).map(|_| (rng.gen(), rng.gen())).collect();
    let l = 2f64.sqrt();
    let mut e = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let d = ((p[a].0 - p[b].0).powi(2) + (p[a].1 - p[b].1).powi(2)).sqrt();
            if rng.gen::<f64>() < alpha * (-d / (beta * l)).exp() {
                e.push((a, b));
            }
        }
    }
    connect(n, &mut e);
    build(n, &e)
}

/// Campus-like: `campuses` × 274 nodes (4 routers in a ring, 10 LAN switches,
/// 26 hosts per switch), campuses joined in a ring. 20 campuses = 5,480.
pub fn campus(campuses: usize) -> Topology {
    let per = 274;
    let mut e = Vec::new();
    for c in 0..campuses {
        let base = c * per;
        for r in 0..4 {
            e.push((base + r, base + (r + 1) % 4));
        }
        for s in 0..10 {
            let sw = base + 4 + s;
            e.push((base + s % 4, sw));
            for h in 0..26 {
                e.push((sw, base + 14 + s * 26 + h));
            }
        }
        e.push((base, ((c + 1) % campuses) * per));
    }
    build(campuses * per, &e)
}

/// Barabási–Albert with m = 2.
pub fn internet(n: usize, seed: u64) -> Topology {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut e = vec![(0, 1), (1, 2), (0, 2)];
    let mut ends: Vec<usize> = vec![0, 1, 1, 2, 0, 2];
    for v in 3..n {
        let mut targets = Vec::new();
        while targets.len() < 2 {
            let t = ends[rng.gen_range(0..ends.len())];
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for t in targets {
            e.push((v, t));
            ends.extend([v, t]);
        }
    }
    build(n, &e)
}

/// The paper's four topologies at their sizes (stand-ins).
pub fn paper(name: &str, seed: u64) -> Option<Topology> {
    Some(match name {
        "grid" => grid(40, 40),
        "waxman" => waxman(2500, 0.01, 0.2, seed),
        "campus" => campus(20),
        "internet" => internet(2113, seed),
        _ => return None,
    })
}

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
    let mut depth = vec![0usize; n];
    for i in 0..n {
        let (mut d, mut v) = (0, i);
        while let Some(p) = parent[v] {
            d += 1;
            v = p as usize;
        }
        depth[i] = d;
    }
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
    for i in 0..n {
        load.cpu[i] += c_proc * recv[i];
    }
    load
}
