//! STAND-IN for `crate::place` (being written in parallel): the agreed API
//! (`Budget`, `PlaceOptions`, `Outcome`, `initial`, `replace`) over a greedy
//! local search — move the vnode of the bottleneck VM whose relocation
//! lowers τ most, while τ improves — and, for re-placement, the prefix of
//! that move sequence with the lowest χ. Delete this file once `place` is on
//! main and point `engine.rs` at `crate::place`.
//!
//! Complexity: each evaluated move costs O(degree + |VMs| + |hosts|).

use crate::cost::{self, Assignment, Instance, Load, Window};

#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Moves(u64),
}

#[derive(Debug, Clone)]
pub struct PlaceOptions {
    pub budget: Budget,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub assignment: Assignment,
    pub tau: f64,
    pub chi: Option<f64>,
    pub changed: bool,
    pub moves_evaluated: u64,
}

/// Per-VM and per-host loads kept up to date move by move.
struct State<'a> {
    inst: &'a Instance,
    load: &'a Load,
    adj: Vec<Vec<(u32, u32)>>,
    assign: Vec<u32>,
    vm: Vec<f64>,
    nic: Vec<f64>,
}

impl<'a> State<'a> {
    fn new(inst: &'a Instance, load: &'a Load, start: &[u32]) -> Self {
        let l = cost::loads(inst, load, start);
        let adj = super::scenario::adjacency(inst);
        State { inst, load, adj, assign: start.to_vec(), vm: l.vm, nic: l.nic }
    }

    /// Add (`sign` = 1) or remove (−1) vnode `n`'s own CPU and its links'
    /// contributions, with `n` on VM `at`.
    fn account(&mut self, n: usize, at: u32, sign: f64) {
        let per = self.inst.costs.cpu_per_mbit;
        self.vm[at as usize] += sign * self.load.cpu[n];
        for &(m, e) in &self.adj[n] {
            let r = sign * self.load.rate[e as usize];
            if r == 0.0 {
                continue;
            }
            let other = self.assign[m as usize];
            let (ha, hb) = (self.inst.vm_host[at as usize], self.inst.vm_host[other as usize]);
            if other == at {
                self.vm[at as usize] += r * per.vm;
            } else if ha == hb {
                self.vm[at as usize] += r * per.host;
                self.vm[other as usize] += r * per.host;
            } else {
                self.vm[at as usize] += r * per.net;
                self.vm[other as usize] += r * per.net;
                self.nic[ha as usize] += r;
                self.nic[hb as usize] += r;
            }
        }
    }

    fn relocate(&mut self, n: usize, to: u32) {
        let from = self.assign[n];
        self.account(n, from, -1.0);
        self.assign[n] = to;
        self.account(n, to, 1.0);
    }

    /// (τ, Σ utilisation²): lexicographic objective, the second breaks ties
    /// between equal maxima.
    fn score(&self) -> (f64, f64, Bottleneck) {
        let mut best = (0.0, Bottleneck::Vm(0));
        let mut sq = 0.0;
        for (v, (l, c)) in self.vm.iter().zip(&self.inst.vm_capacity).enumerate() {
            let u = l / c;
            sq += u * u;
            if u > best.0 {
                best = (u, Bottleneck::Vm(v as u32));
            }
        }
        for (h, (l, c)) in self.nic.iter().zip(&self.inst.host_nic).enumerate() {
            let u = l / c;
            if u > best.0 {
                best = (u, Bottleneck::Nic(h as u32));
            }
        }
        (best.0, sq, best.1)
    }
}

#[derive(Debug, Clone, Copy)]
enum Bottleneck {
    Vm(u32),
    Nic(u32),
}

fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.0 - 1e-12 || (a.0 <= b.0 + 1e-12 && a.1 < b.1 - 1e-12)
}

/// Greedy descent from `start`; returns the accepted moves in order and the
/// number of moves evaluated.
fn descend(inst: &Instance, load: &Load, start: &[u32], budget: u64) -> (Vec<(usize, u32)>, u64) {
    let mut s = State::new(inst, load, start);
    let mut trail = Vec::new();
    let mut evaluated = 0u64;
    loop {
        let (tau, sq, neck) = s.score();
        let movable: Vec<usize> = (0..inst.n_vnodes())
            .filter(|&n| match neck {
                Bottleneck::Vm(v) => s.assign[n] == v,
                Bottleneck::Nic(h) => inst.vm_host[s.assign[n] as usize] == h,
            })
            .collect();
        let mut best: Option<((f64, f64), usize, u32)> = None;
        for &n in &movable {
            let from = s.assign[n];
            let targets: Vec<u32> = (0..inst.n_vms() as u32).collect();
            for to in targets.into_iter().filter(|&t| t != from) {
                if evaluated >= budget {
                    break;
                }
                evaluated += 1;
                s.relocate(n, to);
                let (t2, sq2, _) = s.score();
                s.relocate(n, from);
                if better((t2, sq2), best.map_or((tau, sq), |b| b.0)) {
                    best = Some(((t2, sq2), n, to));
                }
            }
        }
        match best {
            Some((_, n, to)) => {
                s.relocate(n, to);
                trail.push((n, to));
            }
            None => return (trail, evaluated),
        }
        if evaluated >= budget {
            return (trail, evaluated);
        }
    }
}

fn limit(budget: Budget) -> u64 {
    match budget {
        Budget::Moves(m) => m,
    }
}

/// Initial placement: VMs take equal runs of a BFS order from vnode 0
/// (compact regions), then greedy descent on τ.
pub fn initial(inst: &Instance, load: &Load, opts: &PlaceOptions) -> Outcome {
    let n = inst.n_vnodes();
    let adj = super::scenario::adjacency(inst);
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut queue = std::collections::VecDeque::from([root as u32]);
        while let Some(v) = queue.pop_front() {
            order.push(v);
            for &(w, _) in &adj[v as usize] {
                if !seen[w as usize] {
                    seen[w as usize] = true;
                    queue.push_back(w);
                }
            }
        }
    }
    let vms = inst.n_vms().max(1);
    let mut start = vec![0u32; n];
    for (i, &v) in order.iter().enumerate() {
        start[v as usize] = (i * vms / n.max(1)) as u32;
    }
    let (trail, evaluated) = descend(inst, load, &start, limit(opts.budget));
    let mut assignment = start;
    for (v, to) in trail {
        assignment[v] = to;
    }
    let tau = cost::tau(inst, load, &assignment);
    Outcome { assignment, tau, chi: None, changed: true, moves_evaluated: evaluated }
}

/// Re-placement: the prefix of the greedy move sequence with the lowest χ;
/// `current` unchanged (χ = 0) if no prefix has χ < 0.
pub fn replace(inst: &Instance, load: &Load, window: Window, current: &[u32], opts: &PlaceOptions) -> Outcome {
    let (trail, evaluated) = descend(inst, load, current, limit(opts.budget));
    let mut assign = current.to_vec();
    let mut best = (0.0, current.to_vec());
    for (v, to) in trail {
        assign[v] = to;
        let chi = cost::chi_of(inst, load, window, current, &assign);
        if chi < best.0 {
            best = (chi, assign.clone());
        }
    }
    let changed = best.0 < 0.0;
    let tau = cost::tau(inst, load, &best.1);
    Outcome { assignment: best.1, tau, chi: Some(best.0), changed, moves_evaluated: evaluated }
}
