//! The migration side of a re-placement, kept incrementally by the
//! [`super::evaluator::Evaluator`]: T_r(v) of every VM relative to the base
//! assignment φ, and T_L, the share of the testbed's `local_cpus` (model §3).

use super::top_list::TopList;
use crate::cost::{self, migration::move_time_s, Instance};

/// The migration side of a re-placement: T_r(v) of every VM relative to the
/// base assignment φ.
#[derive(Debug, Clone)]
pub(super) struct Migration {
    pub(super) base: Vec<u32>,
    /// (suspend + resume) · |vnodes of v in φ|, seconds.
    pub(super) fixed_s: Vec<f64>,
    /// Number of moves from or to each VM.
    pub(super) touches: Vec<u32>,
    /// Σ mig(n) over the moves from or to each VM, seconds.
    pub(super) mig_sum: Vec<f64>,
    /// T_r(v) (0 for untouched VMs).
    pub(super) tree: TopList,
    /// mig(n) within a host and across hosts, seconds.
    pub(super) mig_host: Vec<f64>,
    pub(super) mig_net: Vec<f64>,
    pub(super) moved: usize,
    /// T_L of the testbed's `local_cpus` (model §3), if it has them.
    pub(super) local: Option<LocalShare>,
}

/// T_L = fixed_s + sum_s / cpus while `moves` > 0 (moves between local VMs).
#[derive(Debug, Clone)]
pub(super) struct LocalShare {
    pub(super) vm_local: Vec<bool>,
    pub(super) cpus: f64,
    pub(super) fixed_s: f64,
    pub(super) sum_s: f64,
    pub(super) moves: isize,
}

impl LocalShare {
    pub(super) fn value(&self, extra_s: f64, extra_moves: isize) -> f64 {
        if self.moves + extra_moves > 0 {
            self.fixed_s + (self.sum_s + extra_s) / self.cpus
        } else {
            0.0
        }
    }
}

impl Migration {
    pub(super) fn new(inst: &Instance, base: &[u32]) -> Migration {
        let c = &inst.costs;
        let mut count = vec![0usize; inst.n_vms()];
        for &v in base {
            count[v as usize] += 1;
        }
        let per_vnode_s = (c.suspend_ms + c.resume_ms) / 1000.0;
        // A VM on another host than VM 0, if any: mig(n) across hosts.
        let other = (0..inst.n_vms() as u32).find(|&v| inst.vm_host[v as usize] != inst.vm_host[0]);
        let mig_host: Vec<f64> = (0..inst.n_vnodes()).map(|n| move_time_s(inst, n, 0, 0)).collect();
        let mig_net: Vec<f64> = (0..inst.n_vnodes())
            .map(|n| other.map_or(mig_host[n], |o| move_time_s(inst, n, 0, o)))
            .collect();
        Migration {
            base: base.to_vec(),
            fixed_s: count.iter().map(|&k| per_vnode_s * k as f64).collect(),
            touches: vec![0; inst.n_vms()],
            mig_sum: vec![0.0; inst.n_vms()],
            tree: TopList::new(&vec![0.0; inst.n_vms()]),
            mig_host,
            mig_net,
            moved: 0,
            local: inst.local_cpus.map(|cpus| LocalShare {
                vm_local: inst.vm_local.clone(),
                cpus: f64::from(cpus),
                fixed_s: per_vnode_s * cost::migration::local_most_vnodes(inst, base) as f64,
                sum_s: 0.0,
                moves: 0,
            }),
        }
    }

    /// T_r(v) with `extra` seconds and `extra_touches` moves added.
    #[inline]
    pub(super) fn value_after(&self, v: usize, extra: f64, extra_touches: i32) -> f64 {
        if self.touches[v] as i32 + extra_touches == 0 {
            0.0
        } else {
            self.fixed_s[v] + self.mig_sum[v] + extra
        }
    }

    pub(super) fn recompute(&mut self, inst: &Instance, assign: &[u32]) {
        self.touches.fill(0);
        self.mig_sum.fill(0.0);
        self.moved = 0;
        if let Some(l) = &mut self.local {
            (l.sum_s, l.moves) = (0.0, 0);
        }
        for (n, (&o, &v)) in self.base.iter().zip(assign).enumerate() {
            if o != v {
                let t = if inst.vm_host[o as usize] == inst.vm_host[v as usize] {
                    self.mig_host[n]
                } else {
                    self.mig_net[n]
                };
                for x in [o, v] {
                    self.touches[x as usize] += 1;
                    self.mig_sum[x as usize] += t;
                }
                self.moved += 1;
                if let Some(l) = self
                    .local
                    .as_mut()
                    .filter(|l| l.vm_local[o as usize] && l.vm_local[v as usize])
                {
                    l.sum_s += t;
                    l.moves += 1;
                }
            }
        }
        let values: Vec<f64> = (0..self.touches.len()).map(|v| self.value_after(v, 0.0, 0)).collect();
        self.tree = TopList::new(&values);
    }
}
