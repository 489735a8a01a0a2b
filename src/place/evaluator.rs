//! The incremental evaluator: the state of one assignment — per-VM load L_v,
//! per-host NIC traffic N_h, the vnodes of every VM and, for a re-placement,
//! every VM's T_r(v) — and the score of a relocate or swap move computed from
//! the VMs and hosts the move touches only (model §5).
//!
//! Three tournament trees ([`TopList`]) hold L_v/capacity_v, N_h/nic_h and
//! T_r(v), so that τ and T_r after a move are a query over the untouched
//! leaves plus the few touched values.
//!
//! The formulas are those of `crate::cost` (model §2–3); the tests check the
//! incremental values against `cost::loads`, `cost::tau` and `cost::t_r`, and
//! [`Evaluator::resync`] recomputes the sums from `cost::loads` to shed
//! rounding drift.
//!
//! ```
//! use netbalance::cost::{self, Instance, Load};
//! use netbalance::model::{Costs, Link, Testbed, Topology, Vnode};
//! use netbalance::place::evaluator::{Evaluator, Move};
//! let tb = Testbed::generate(1, 2, 1000.0);
//! let topo = Topology { vnodes: vec![Vnode::new("a"), Vnode::new("b")], links: vec![Link::new("a", "b", 100.0)] };
//! let inst = Instance::new(&topo, &tb, Costs::default());
//! let load = Load { cpu: vec![0.5, 0.1], rate: vec![100.0] };
//! let mut ev = Evaluator::new(&inst, &load, vec![0, 1], None);
//! let mv = Move::Relocate { vnode: 1, to: 0 };
//! let score = ev.evaluate(mv);
//! assert!((score.tau - cost::tau(&inst, &load, &[0, 0])).abs() < 1e-12);
//! ev.apply(mv);
//! assert_eq!(ev.assignment(), &[0, 0]);
//! ```
//!
//! Complexity: `evaluate` O(deg(n) + k) for a move of vnode n touching k
//! VMs, O(VMs of two hosts + k) for a hub ([`HubSums`]) (O(V) in the rare
//! case that the k touched VMs are all the leaders [`TopList`] keeps); `apply` O(deg(n) + k·CAP) plus an occasional O(V)
//! rebuild of a leader list; `resync` O(|vnodes| + |links| + V log V).

use super::boundary::Boundary;
use super::hub_sums::HubSums;
use super::migration_state::Migration;
use super::scratch::Scratch;
use super::top_list::TopList;
use crate::cost::{self, Instance, Load};

/// Hubs: vnodes with at least 2·(most VMs on a host) + this many links
/// (see [`Evaluator::set_hub_degree`]).
const HUB_DEGREE_OVER: usize = 16;

/// A change of the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Move one vnode to another VM.
    Relocate { vnode: u32, to: u32 },
    /// Exchange the VMs of two vnodes.
    Swap { a: u32, b: u32 },
    /// An ejection: vnode `a` moves to the VM of vnode `b`, and `b` leaves
    /// it for VM `to` (≠ that VM; `to` may be `a`'s VM: then it is a swap).
    /// Scored at once, so it pays where neither move alone does.
    Eject { a: u32, b: u32, to: u32 },
}

/// The figures of an assignment (current or after a move).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// τ (model §2).
    pub tau: f64,
    /// T_r from the base assignment (model §3); 0 without one.
    pub t_r: f64,
    /// Vnodes on another VM than in the base assignment.
    pub moved: usize,
    /// Σ_v (L_v/capacity_v)² + Σ_h (N_h/nic_h)²: a smooth measure of spread
    /// that the annealer uses to break τ's plateaus.
    pub spread: f64,
}

/// The incremental state of one assignment.
#[derive(Debug, Clone)]
pub struct Evaluator<'a> {
    inst: &'a Instance,
    load: &'a Load,
    /// Neighbours (vnode, rate of the link) of every vnode, CSR; links
    /// without traffic are left out (they cost nothing).
    adj_start: Vec<u32>,
    adj: Vec<(u32, f64)>,
    per_vm: f64,
    per_host: f64,
    per_net: f64,
    inv_cap: Vec<f64>,
    inv_nic: Vec<f64>,
    assign: Vec<u32>,
    /// Per vnode, its VM and that VM's host: `assign` and the host in one
    /// read for every link walked.
    vnode_at: Vec<(u32, u32)>,
    vm_load: Vec<f64>,
    nic_load: Vec<f64>,
    members: Vec<Vec<u32>>,
    slot: Vec<u32>,
    /// Per vnode: neighbours (over links with traffic) on another VM.
    foreign: Vec<u32>,
    /// Vnodes with a foreign neighbour.
    boundary: Boundary,
    vm_tree: TopList,
    nic_tree: TopList,
    spread: f64,
    mig: Option<Migration>,
    scratch: Scratch,
    /// Vnodes with at least this many links are scored from [`HubSums`].
    hub_degree: usize,
    hubs: HubSums,
    /// The VMs of every host, CSR.
    host_vm_start: Vec<u32>,
    host_vm: Vec<u32>,
}

/// The VM and host deltas of moving one vnode from VM `a` (host `ha`) to
/// VM `b` (host `hb`), summed link by link: what [`Evaluator::delta_links`]
/// and its hub form share.
struct MoveDelta {
    a: u32,
    b: u32,
    ha: u32,
    hb: u32,
    /// CPU per Mbit charged to the VM of the moved vnode by class (same VM,
    /// same host, across hosts) and to the VM of the other end (nothing on
    /// one VM).
    own: [f64; 3],
    other: [f64; 3],
    da: f64,
    db: f64,
    dha: f64,
    dhb: f64,
}

impl MoveDelta {
    /// The moved vnode's own `cpu`, and `far` Mbit/s of links across hosts
    /// before and after (a hub's summed links off `ha` and `hb`).
    #[inline(always)]
    fn new(a: u32, b: u32, ha: u32, hb: u32, own: [f64; 3], cpu: f64, far: f64) -> MoveDelta {
        let mut d = MoveDelta {
            a,
            b,
            ha,
            hb,
            own,
            other: [0.0, own[1], own[2]],
            da: -cpu,
            db: cpu,
            dha: 0.0,
            dhb: 0.0,
        };
        d.far(far);
        d
    }

    /// `rate` Mbit/s of links across hosts before and after.
    #[inline(always)]
    fn far(&mut self, rate: f64) {
        self.da -= rate * self.own[2];
        self.db += rate * self.own[2];
        self.dha -= rate;
        self.dhb += rate;
    }

    /// A link of `rate` Mbit/s to VM `c` on host `hc`, which is `ha` or `hb`.
    #[inline(always)]
    fn near(&mut self, s: &mut Scratch, rate: f64, c: u32, hc: u32) {
        let (a, b, ha, hb) = (self.a, self.b, self.ha, self.hb);
        // Class of the link before (from a) and after (from b):
        // 0 one VM, 1 one host, 2 across hosts.
        let before = (c != a) as usize + (hc != ha) as usize;
        let after = (c != b) as usize + (hc != hb) as usize;
        self.da -= rate * self.own[before];
        self.db += rate * self.own[after];
        // The same additions as a form that tested `dc != 0.0` first and
        // a host sum per class, less the additions of zero: seeded
        // results are bit for bit those of that form, with fewer branches.
        let dc = rate * (self.other[after] - self.other[before]);
        if c == a {
            self.da += dc;
        } else if c == b {
            self.db += dc;
        } else if dc != 0.0 {
            s.add_vm(c, dc);
        }
        // hc is ha or hb here. Between two hosts, a link to ha starts
        // crossing (both NICs carry it), one to hb stops; on one host
        // nothing crosses.
        if ha != hb {
            let dh = if hc == ha { rate } else { -rate };
            self.dha += dh;
            self.dhb += dh;
        }
    }

    /// Hand the sums to the scratch deltas.
    #[inline(always)]
    fn finish(self, s: &mut Scratch) {
        s.add_vm(self.a, self.da);
        s.add_vm(self.b, self.db);
        if self.dha != 0.0 {
            s.add_host(self.ha, self.dha);
        }
        if self.dhb != 0.0 {
            s.add_host(self.hb, self.dhb);
        }
    }
}

impl<'a> Evaluator<'a> {
    /// The state of `assign`. With `base` (a re-placement), T_r and the moved
    /// count are measured from `base`. Both must be complete (one valid VM
    /// per vnode).
    pub fn new(inst: &'a Instance, load: &'a Load, assign: Vec<u32>, base: Option<&[u32]>) -> Evaluator<'a> {
        let n = inst.n_vnodes();
        let mut degree = vec![0u32; n + 1];
        for (e, &(a, b)) in inst.links.iter().enumerate() {
            if load.rate[e] != 0.0 {
                degree[a as usize] += 1;
                degree[b as usize] += 1;
            }
        }
        let mut adj_start = vec![0u32; n + 1];
        for i in 0..n {
            adj_start[i + 1] = adj_start[i] + degree[i];
        }
        let mut fill = adj_start.clone();
        let mut adj = vec![(0u32, 0.0f64); adj_start[n] as usize];
        for (e, &(a, b)) in inst.links.iter().enumerate() {
            let rate = load.rate[e];
            if rate != 0.0 {
                adj[fill[a as usize] as usize] = (b, rate);
                fill[a as usize] += 1;
                adj[fill[b as usize] as usize] = (a, rate);
                fill[b as usize] += 1;
            }
        }
        let per = inst.costs.cpu_per_mbit;
        let mut members = vec![Vec::new(); inst.n_vms()];
        let mut slot = vec![0u32; n];
        for (i, &v) in assign.iter().enumerate() {
            slot[i] = members[v as usize].len() as u32;
            members[v as usize].push(i as u32);
        }
        let mig = base.map(|base| Migration::new(inst, base));
        let mut host_vm_start = vec![0u32; inst.n_hosts() + 1];
        for &h in &inst.vm_host {
            host_vm_start[h as usize + 1] += 1;
        }
        for h in 0..inst.n_hosts() {
            host_vm_start[h + 1] += host_vm_start[h];
        }
        let mut host_vm = vec![0u32; inst.n_vms()];
        let mut fill = host_vm_start.clone();
        for (v, &h) in inst.vm_host.iter().enumerate() {
            host_vm[fill[h as usize] as usize] = v as u32;
            fill[h as usize] += 1;
        }
        let widest = host_vm_start.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as usize;
        let mut ev = Evaluator {
            inst,
            load,
            adj_start,
            adj,
            per_vm: per.vm,
            per_host: per.host,
            per_net: per.net,
            inv_cap: inst.vm_capacity.iter().map(|c| 1.0 / c).collect(),
            inv_nic: inst.host_nic.iter().map(|c| 1.0 / c).collect(),
            vnode_at: assign.iter().map(|&v| (v, inst.vm_host[v as usize])).collect(),
            assign,
            vm_load: Vec::new(),
            nic_load: Vec::new(),
            members,
            slot,
            foreign: vec![0; n],
            boundary: Boundary::new(n),
            vm_tree: TopList::new(&[]),
            nic_tree: TopList::new(&[]),
            spread: 0.0,
            mig,
            scratch: Scratch::new(inst.n_vms(), inst.n_hosts()),
            hub_degree: 2 * widest + HUB_DEGREE_OVER,
            hubs: HubSums::new(&[0], &[], &[], &[], 0, 0),
            host_vm_start,
            host_vm,
        };
        ev.resync();
        ev
    }

    /// Score the moves of vnodes with at least `degree` links from per-VM
    /// sums ([`HubSums`]) instead of their links (the default: 2·(most VMs
    /// on a host) + 16, where the sums are the cheaper walk). The score is
    /// the same up to rounding; the tests use this to exercise both paths.
    pub fn set_hub_degree(&mut self, degree: usize) {
        self.hub_degree = degree;
        self.resync();
    }

    /// Recompute every sum from scratch (`cost::loads`), shedding the
    /// rounding drift of long move sequences.
    pub fn resync(&mut self) {
        let loads = cost::loads(self.inst, self.load, &self.assign);
        self.vm_load = loads.vm;
        self.nic_load = loads.nic;
        let vm_util: Vec<f64> = self.vm_load.iter().zip(&self.inv_cap).map(|(l, c)| l * c).collect();
        let nic_util: Vec<f64> = self.nic_load.iter().zip(&self.inv_nic).map(|(l, c)| l * c).collect();
        self.spread = vm_util.iter().chain(&nic_util).map(|u| u * u).sum();
        self.vm_tree = TopList::new(&vm_util);
        self.nic_tree = TopList::new(&nic_util);
        if let Some(m) = &mut self.mig {
            m.recompute(self.inst, &self.assign);
        }
        self.hubs = HubSums::new(
            &self.adj_start,
            &self.adj,
            &self.assign,
            &self.inst.vm_host,
            self.inst.n_hosts(),
            self.hub_degree,
        );
        for n in 0..self.assign.len() {
            let v = self.assign[n];
            let f = self
                .neighbours(n as u32)
                .iter()
                .filter(|&&(m, _)| self.assign[m as usize] != v)
                .count() as u32;
            self.foreign[n] = f;
            self.boundary.mark(n as u32, f);
        }
        self.scratch.pending = None;
    }

    /// Vnodes with a neighbour on another VM (in no particular order).
    pub fn boundary(&self) -> &[u32] {
        self.boundary.list()
    }

    pub fn assignment(&self) -> &[u32] {
        &self.assign
    }
    pub fn instance(&self) -> &'a Instance {
        self.inst
    }
    /// The vnodes on VM `v` (in no particular order).
    pub fn members(&self, v: u32) -> &[u32] {
        &self.members[v as usize]
    }
    /// Vnodes linked to `n` by a link with traffic, with the link's rate.
    pub fn neighbours(&self, n: u32) -> &[(u32, f64)] {
        &self.adj[self.adj_start[n as usize] as usize..self.adj_start[n as usize + 1] as usize]
    }
    /// L_v of every VM.
    pub fn vm_loads(&self) -> &[f64] {
        &self.vm_load
    }
    /// N_h of every host.
    pub fn nic_loads(&self) -> &[f64] {
        &self.nic_load
    }
    /// L_v / capacity_v.
    pub fn vm_utilisation(&self, v: u32) -> f64 {
        self.vm_tree.get(v as usize)
    }
    /// The VM with the highest L_v/capacity_v.
    pub fn busiest_vm(&self) -> u32 {
        self.vm_tree.argmax() as u32
    }
    /// The host with the highest N_h/nic_h, if its NIC limits τ.
    pub fn nic_bottleneck(&self) -> Option<u32> {
        (self.nic_tree.max() > self.vm_tree.max()).then(|| self.nic_tree.argmax() as u32)
    }
    /// The CPU load of vnode `n` by itself.
    pub fn vnode_cpu(&self, n: u32) -> f64 {
        self.load.cpu[n as usize]
    }
    /// The base assignment of a re-placement.
    pub fn base(&self) -> Option<&[u32]> {
        self.mig.as_ref().map(|m| m.base.as_slice())
    }

    /// The score of the current assignment.
    pub fn score(&self) -> Score {
        Score {
            tau: self.vm_tree.max().max(self.nic_tree.max()),
            t_r: self.mig.as_ref().map_or(0.0, |m| {
                let shared = m.local.as_ref().map_or(0.0, |l| l.value(0.0, 0));
                m.tree.max().max(0.0).max(shared)
            }),
            moved: self.mig.as_ref().map_or(0, |m| m.moved),
            spread: self.spread,
        }
    }

    /// The score after `mv`, without changing the state. `mv` must name
    /// vnodes on different VMs (relocate and eject: `to` ≠ the VM of the
    /// vnode sent there).
    pub fn evaluate(&mut self, mv: Move) -> Score {
        self.scratch.begin();
        match mv {
            Move::Relocate { vnode, to } => {
                let from = self.assign[vnode as usize];
                self.delta_relocate(vnode, from, to, true);
            }
            Move::Swap { a, b } => {
                let (va, vb) = (self.assign[a as usize], self.assign[b as usize]);
                self.delta_relocate(a, va, vb, true);
                // b's links are charged against a's new VM (which b's hub
                // sums, if any, do not know: they are not used).
                self.place_for_scoring(a, vb);
                self.delta_relocate(b, vb, va, false);
                self.place_for_scoring(a, va);
            }
            Move::Eject { a, b, to } => self.delta_eject(a, b, to),
        }
        let score = self.score_of_scratch();
        self.scratch.pending = Some((mv, score.spread));
        score
    }

    /// Put vnode `n` on VM `v` in `assign` and `vnode_at` only (the
    /// second half of a pair move is scored against the first's new VM).
    #[inline]
    fn place_for_scoring(&mut self, n: u32, v: u32) {
        self.assign[n as usize] = v;
        self.vnode_at[n as usize] = (v, self.inst.vm_host[v as usize]);
    }

    /// Add the deltas of [`Move::Eject`] to the scratch (out of line: it
    /// is rare, the descent of a re-placement).
    #[inline(never)]
    fn delta_eject(&mut self, a: u32, b: u32, to: u32) {
        let (va, vb) = (self.assign[a as usize], self.assign[b as usize]);
        self.delta_relocate(a, va, vb, true);
        // b's links are charged against a's new VM (not in b's hub sums).
        self.place_for_scoring(a, vb);
        self.delta_relocate(b, vb, to, false);
        self.place_for_scoring(a, va);
    }

    /// Add the deltas of moving vnode `n` from VM `a` to VM `b` to the scratch.
    /// The deltas of `a`, `b` and their hosts are summed in locals first.
    /// A hub is scored from its sums when `sums_hold` (the assignment is
    /// the one they were kept for).
    #[inline]
    fn delta_relocate(&mut self, n: u32, a: u32, b: u32, sums_hold: bool) {
        let hub = if sums_hold && !self.hubs.is_empty() {
            self.hubs.row(n)
        } else {
            None
        };
        match hub {
            Some(r) => self.delta_links_hub(r, n, a, b),
            None => self.delta_links(n, a, b),
        }
        if self.mig.is_some() {
            self.delta_migration(n, a, b);
        }
    }

    /// [`Self::delta_relocate`]'s link and CPU part, link by link.
    #[inline]
    fn delta_links(&mut self, n: u32, a: u32, b: u32) {
        let s = &mut self.scratch;
        let host = &self.inst.vm_host;
        let (ha, hb) = (host[a as usize], host[b as usize]);
        let cpu = self.load.cpu[n as usize];
        let mut d = MoveDelta::new(a, b, ha, hb, [self.per_vm, self.per_host, self.per_net], cpu, 0.0);
        let range = self.adj_start[n as usize] as usize..self.adj_start[n as usize + 1] as usize;
        // Slices borrowed once: their pointers stay in registers across
        // the scratch's writes.
        let vnode_at = &self.vnode_at[..];
        for &(m, rate) in &self.adj[range] {
            let (c, hc) = vnode_at[m as usize];
            if hc != ha && hc != hb {
                // Across hosts before and after: only a, b and their hosts
                // change. Added link by link: a separate sum would change
                // the order of the floating-point additions, hence every
                // seeded result (simulate's 0.389 became 0.358).
                d.far(rate);
                continue;
            }
            d.near(s, rate, c, hc);
        }
        d.finish(s);
    }

    /// [`Self::delta_links`] for a hub, from its sums: links to VMs off
    /// hosts `a` and `b` are across hosts before and after (one sum); the
    /// VMs of those hosts are taken one by one, each like one link.
    /// O(VMs of two hosts). Out of line: hubs are few.
    #[inline(never)]
    fn delta_links_hub(&mut self, r: usize, n: u32, a: u32, b: u32) {
        let s = &mut self.scratch;
        let host = &self.inst.vm_host;
        let (ha, hb) = (host[a as usize], host[b as usize]);
        let (per_vm, per_host) = (self.hubs.vm(r), self.hubs.host(r));
        let near = per_host[ha as usize] + if hb != ha { per_host[hb as usize] } else { 0.0 };
        let far = self.hubs.total(r) - near;
        let cpu = self.load.cpu[n as usize];
        let mut d = MoveDelta::new(a, b, ha, hb, [self.per_vm, self.per_host, self.per_net], cpu, far);
        let both = [ha, hb];
        for &hc in &both[..1 + usize::from(hb != ha)] {
            let vms =
                &self.host_vm[self.host_vm_start[hc as usize] as usize..self.host_vm_start[hc as usize + 1] as usize];
            for &c in vms {
                let rate = per_vm[c as usize];
                if rate != 0.0 {
                    d.near(s, rate, c, hc);
                }
            }
        }
        d.finish(s);
    }

    /// [`Self::delta_relocate`]'s migration part (re-placement only).
    #[inline]
    fn delta_migration(&mut self, n: u32, a: u32, b: u32) {
        let s = &mut self.scratch;
        let host = &self.inst.vm_host;
        if let Some(m) = &self.mig {
            let o = m.base[n as usize];
            let ho = host[o as usize];
            let mig = |v: u32| {
                if host[v as usize] == ho {
                    m.mig_host[n as usize]
                } else {
                    m.mig_net[n as usize]
                }
            };
            let shared = |v: u32| {
                m.local
                    .as_ref()
                    .is_some_and(|l| l.vm_local[o as usize] && l.vm_local[v as usize])
            };
            if a != o {
                let t = mig(a);
                s.add_tr(o, -t, -1);
                s.add_tr(a, -t, -1);
                s.moved_delta -= 1;
                if shared(a) {
                    s.local_delta = (s.local_delta.0 - t, s.local_delta.1 - 1);
                }
            }
            if b != o {
                let t = mig(b);
                s.add_tr(o, t, 1);
                s.add_tr(b, t, 1);
                s.moved_delta += 1;
                if shared(b) {
                    s.local_delta = (s.local_delta.0 + t, s.local_delta.1 + 1);
                }
            }
        }
    }

    fn score_of_scratch(&self) -> Score {
        let s = &self.scratch;
        let mut spread = self.spread;
        let mut vm_max = self.vm_tree.max_excluding(|v| s.vm.is_touched(s.stamp, v));
        for &v in s.vm.touched() {
            let u = (self.vm_load[v as usize] + s.vm.delta[v as usize]) * self.inv_cap[v as usize];
            let old = self.vm_tree.get(v as usize);
            spread += u * u - old * old;
            vm_max = vm_max.max(u);
        }
        let mut nic_max = self.nic_tree.max_excluding(|h| s.host.is_touched(s.stamp, h));
        for &h in s.host.touched() {
            let u = (self.nic_load[h as usize] + s.host.delta[h as usize]) * self.inv_nic[h as usize];
            let old = self.nic_tree.get(h as usize);
            spread += u * u - old * old;
            nic_max = nic_max.max(u);
        }
        let (t_r, moved) = match &self.mig {
            None => (0.0, 0),
            Some(m) => {
                let mut t_r = m.tree.max_excluding(|v| s.tr.is_touched(s.stamp, v)).max(0.0);
                for &v in s.tr.touched() {
                    t_r = t_r.max(m.value_after(v as usize, s.tr.delta[v as usize], s.tr_touch[v as usize]));
                }
                if let Some(l) = &m.local {
                    t_r = t_r.max(l.value(s.local_delta.0, s.local_delta.1));
                }
                (t_r, (m.moved as isize + s.moved_delta) as usize)
            }
        };
        Score {
            tau: vm_max.max(nic_max),
            t_r,
            moved,
            spread,
        }
    }

    /// Make `mv` the current assignment.
    pub fn apply(&mut self, mv: Move) {
        let spread = match self.scratch.pending {
            Some((m, spread)) if m == mv => spread,
            _ => self.evaluate(mv).spread,
        };
        match mv {
            Move::Relocate { vnode, to } => self.relocate(vnode, to),
            Move::Swap { a, b } => {
                let (va, vb) = (self.assign[a as usize], self.assign[b as usize]);
                self.relocate(a, vb);
                self.relocate(b, va);
            }
            Move::Eject { a, b, to } => {
                self.relocate(a, self.assign[b as usize]);
                self.relocate(b, to);
            }
        }
        let s = &self.scratch;
        for &v in s.vm.touched() {
            let i = v as usize;
            self.vm_load[i] += s.vm.delta[i];
            self.vm_tree.set(i, self.vm_load[i] * self.inv_cap[i]);
        }
        for &h in s.host.touched() {
            let i = h as usize;
            self.nic_load[i] += s.host.delta[i];
            self.nic_tree.set(i, self.nic_load[i] * self.inv_nic[i]);
        }
        if let Some(m) = &mut self.mig {
            for &v in s.tr.touched() {
                let i = v as usize;
                m.touches[i] = (m.touches[i] as i32 + s.tr_touch[i]) as u32;
                m.mig_sum[i] = if m.touches[i] == 0 {
                    0.0
                } else {
                    m.mig_sum[i] + s.tr.delta[i]
                };
                let t = m.value_after(i, 0.0, 0);
                m.tree.set(i, t);
            }
            m.moved = (m.moved as isize + s.moved_delta) as usize;
            if let Some(l) = &mut m.local {
                l.moves += s.local_delta.1;
                l.sum_s = if l.moves == 0 { 0.0 } else { l.sum_s + s.local_delta.0 };
            }
        }
        self.spread = spread;
        self.scratch.pending = None;
    }

    /// Move vnode `n` to VM `to` in the assignment, member and boundary lists.
    /// The fields are borrowed apart, so that the loop keeps their
    /// pointers in registers.
    fn relocate(&mut self, n: u32, to: u32) {
        let Evaluator {
            inst,
            adj_start,
            adj,
            assign,
            vnode_at,
            members,
            slot,
            foreign,
            boundary,
            hubs,
            ..
        } = self;
        let from = assign[n as usize];
        let range = adj_start[n as usize] as usize..adj_start[n as usize + 1] as usize;
        let mut own = foreign[n as usize] as i32;
        let was_boundary = own > 0;
        let (hf, ht) = (inst.vm_host[from as usize], inst.vm_host[to as usize]);
        let any_hubs = !hubs.is_empty();
        for &(m, rate) in &adj[range] {
            if any_hubs {
                if let Some(r) = hubs.row(m) {
                    hubs.shift(r, rate, (from, hf), (to, ht));
                }
            }
            let c = vnode_at[m as usize].0;
            let change = (c != to) as i32 - (c != from) as i32;
            if change != 0 {
                let f = &mut foreign[m as usize];
                let before = *f;
                *f = (before as i32 + change) as u32;
                own += change;
                if (before == 0) != (*f == 0) {
                    boundary.mark(m, *f);
                }
            }
        }
        foreign[n as usize] = own as u32;
        if was_boundary != (own > 0) {
            boundary.mark(n, own as u32);
        }
        let list = &mut members[from as usize];
        let at = slot[n as usize] as usize;
        list.swap_remove(at);
        if let Some(&other) = list.get(at) {
            slot[other as usize] = at as u32;
        }
        slot[n as usize] = members[to as usize].len() as u32;
        members[to as usize].push(n);
        assign[n as usize] = to;
        vnode_at[n as usize] = (to, ht);
    }
}
