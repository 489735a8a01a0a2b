//! The placer (model §5): an initial placement that minimises τ, and a
//! re-placement that minimises χ from the current placement, by simulated
//! annealing over relocate and swap moves with incremental deltas; and the
//! greedy baseline.
//!
//! ```
//! use netbalance::cost::{self, Instance, Window};
//! use netbalance::model::{Costs, Link, Testbed, Topology, Vnode};
//! use netbalance::place::{self, Budget, PlaceOptions};
//! let tb = Testbed::generate(2, 2, 10_000.0);
//! let ids: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
//! let topo = Topology {
//!     vnodes: ids.iter().map(|id| Vnode::new(id.as_str())).collect(),
//!     links: (0..7).map(|i| Link::new(ids[i].as_str(), ids[i + 1].as_str(), 100.0)).collect(),
//! };
//! let inst = Instance::new(&topo, &tb, Costs::default());
//! let load = inst.expected_load(&topo);
//! let opts = PlaceOptions { budget: Budget::Moves(20_000), seed: 1, constraints: Default::default() };
//! let out = place::initial(&inst, &load, &opts);
//! assert_eq!(out.assignment.len(), 8);
//! assert!((out.tau - cost::tau(&inst, &load, &out.assignment)).abs() < 1e-12);
//! // From there, nothing pays for a migration: the placement stays.
//! let again = place::replace(&inst, &load, Window::default(), &out.assignment, &opts);
//! assert!(!again.changed && again.assignment == out.assignment && again.chi == Some(0.0));
//! ```

pub mod anneal;
mod boundary;
pub mod evaluator;
pub mod greedy;
pub mod hub_sums;
mod migration_state;
pub mod rng;
mod scratch;
pub mod top_list;

pub use greedy::greedy;

use crate::cost::{self, Assignment, Instance, Load, Window};
use evaluator::{Evaluator, Move};
use rand::SeedableRng;
use rng::FastRng;
use std::collections::VecDeque;

/// When the search stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// After this many moves evaluated: the same seed gives the same result.
    Moves(u64),
    /// After this much wall-clock time (T_o).
    Time(std::time::Duration),
}

/// Limits on the placements the search may return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Per vnode: the VM it must run on. Empty = no pins.
    pub pinned: Vec<Option<u32>>,
    /// Per VM: true if no vnode may run there. Empty = none forbidden.
    pub forbidden: Vec<bool>,
    /// Re-placement: at most this many vnodes migrate.
    pub max_moves: Option<usize>,
}

impl Constraints {
    /// The VM vnode `n` is pinned to.
    pub fn pin_of(&self, n: usize) -> Option<u32> {
        self.pinned.get(n).copied().flatten()
    }
    /// Whether vnodes may run on VM `v`.
    pub fn allows(&self, v: usize) -> bool {
        !self.forbidden.get(v).copied().unwrap_or(false)
    }
    /// Check the constraints can be met on `inst`; the message names the fault.
    pub fn check(&self, inst: &Instance) -> Result<(), String> {
        if self.pinned.len() > inst.n_vnodes() || self.forbidden.len() > inst.n_vms() {
            return Err("constraints name more vnodes or VMs than the instance has".into());
        }
        if !(0..inst.n_vms()).any(|v| self.allows(v)) {
            return Err("every VM is forbidden".into());
        }
        for n in 0..inst.n_vnodes() {
            if let Some(v) = self.pin_of(n) {
                if v as usize >= inst.n_vms() {
                    return Err(format!("vnode {:?} is pinned to an unknown VM", inst.vnode_ids[n]));
                }
                if !self.allows(v as usize) {
                    return Err(format!(
                        "vnode {:?} is pinned to the forbidden VM {:?}",
                        inst.vnode_ids[n], inst.vm_names[v as usize]
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How to search.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOptions {
    pub budget: Budget,
    pub seed: u64,
    pub constraints: Constraints,
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub assignment: Assignment,
    /// τ of `assignment` (computed by `cost::tau`).
    pub tau: f64,
    /// Re-placement: χ of the change (`Some(0.0)` when unchanged).
    pub chi: Option<f64>,
    /// False when a re-placement keeps the current placement.
    pub changed: bool,
    pub moves_evaluated: u64,
}

/// A progress report, sent every ~100 ms of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchProgress {
    /// Share of the budget spent, 0..1.
    pub fraction: f64,
    pub moves_evaluated: u64,
    pub best_tau: f64,
    pub best_t_r: f64,
}

/// Initial placement: minimise τ (nothing migrates; `max_moves` is ignored).
/// The constraints must pass [`Constraints::check`].
pub fn initial(inst: &Instance, load: &Load, opts: &PlaceOptions) -> Placed {
    initial_with_progress(inst, load, opts, &mut |_| {})
}

/// [`initial`] with a progress callback.
pub fn initial_with_progress(
    inst: &Instance,
    load: &Load,
    opts: &PlaceOptions,
    progress: &mut dyn FnMut(&SearchProgress),
) -> Placed {
    let start = start_assignment(inst, load, &opts.constraints);
    let mut ev = Evaluator::new(inst, load, start, None);
    let mut rng = FastRng::seed_from_u64(opts.seed);
    let params = anneal::Params {
        budget: opts.budget,
        tau_weight: 1.0,
        constraints: &opts.constraints,
    };
    let found = anneal::anneal(&mut ev, &params, &mut rng, progress);
    Placed {
        tau: cost::tau(inst, load, &found.assignment),
        assignment: found.assignment,
        chi: None,
        changed: true,
        moves_evaluated: found.moves_evaluated,
    }
}

/// Re-placement: minimise χ (model §4) from `current` under the predicted
/// `load`. If no φ′ with χ < 0 is found, the outcome is `current` itself
/// (`changed` false, `chi` `Some(0.0)`): the experiment never gets slower.
/// A changed placement respects the constraints (vnodes on a forbidden VM
/// or off their pin are moved, and those moves count towards `max_moves`).
pub fn replace(inst: &Instance, load: &Load, window: Window, current: &[u32], opts: &PlaceOptions) -> Placed {
    replace_with_progress(inst, load, window, current, opts, &mut |_| {})
}

/// [`replace`] with a progress callback.
pub fn replace_with_progress(
    inst: &Instance,
    load: &Load,
    window: Window,
    current: &[u32],
    opts: &PlaceOptions,
    progress: &mut dyn FnMut(&SearchProgress),
) -> Placed {
    let unchanged = |moves_evaluated| Placed {
        assignment: current.to_vec(),
        tau: cost::tau(inst, load, current),
        chi: Some(0.0),
        changed: false,
        moves_evaluated,
    };
    let rest = window.tp - window.to;
    // No time left in the window (or NaN): nothing can pay for a migration.
    if rest.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return unchanged(0);
    }
    let c = &opts.constraints;
    let mut ev = Evaluator::new(inst, load, current.to_vec(), Some(current));
    enforce(&mut ev, c);
    if ev.score().moved > c.max_moves.unwrap_or(usize::MAX) {
        return unchanged(0);
    }
    let mut rng = FastRng::seed_from_u64(opts.seed);
    let params = anneal::Params {
        budget: opts.budget,
        tau_weight: rest,
        constraints: c,
    };
    let found = anneal::anneal(&mut ev, &params, &mut rng, progress);
    let chi = cost::chi_of(inst, load, window, current, &found.assignment);
    if chi < 0.0 && found.assignment != current {
        Placed {
            tau: cost::tau(inst, load, &found.assignment),
            assignment: found.assignment,
            chi: Some(chi),
            changed: true,
            moves_evaluated: found.moves_evaluated,
        }
    } else {
        unchanged(found.moves_evaluated)
    }
}

/// Move pinned vnodes to their pins and vnodes off forbidden VMs (to the
/// least utilised allowed VM at that moment).
fn enforce(ev: &mut Evaluator, c: &Constraints) {
    let inst = ev.instance();
    for n in 0..inst.n_vnodes() {
        let at = ev.assignment()[n];
        let to = match c.pin_of(n) {
            Some(p) => p,
            None if c.allows(at as usize) => continue,
            None => (0..inst.n_vms() as u32)
                .filter(|&v| c.allows(v as usize))
                .min_by(|&a, &b| ev.vm_utilisation(a).total_cmp(&ev.vm_utilisation(b)))
                .unwrap_or(at),
        };
        if to != at {
            ev.apply(Move::Relocate { vnode: n as u32, to });
        }
    }
}

/// The start of an initial placement: pinned vnodes on their pins, the
/// others in breadth-first order cut into runs of about equal expected load
/// (own CPU plus half their links at the cross-VM price) per allowed VM,
/// in proportion to capacity. Neighbours mostly share a VM.
///
/// Complexity: O(|vnodes| + |links| + V).
pub fn start_assignment(inst: &Instance, load: &Load, c: &Constraints) -> Assignment {
    let n = inst.n_vnodes();
    let mut weight: Vec<f64> = load.cpu.clone();
    let mut adj = vec![Vec::new(); n];
    for (e, &(a, b)) in inst.links.iter().enumerate() {
        let w = load.rate[e] * inst.costs.cpu_per_mbit.host / 2.0;
        weight[a as usize] += w;
        weight[b as usize] += w;
        adj[a as usize].push(b);
        adj[b as usize].push(a);
    }
    let mut assign = vec![u32::MAX; n];
    for (i, slot) in assign.iter_mut().enumerate() {
        if let Some(v) = c.pin_of(i) {
            *slot = v;
        }
    }
    let allowed: Vec<u32> = (0..inst.n_vms() as u32).filter(|&v| c.allows(v as usize)).collect();
    let allowed = if allowed.is_empty() {
        (0..inst.n_vms() as u32).collect()
    } else {
        allowed
    };
    let free: Vec<usize> = bfs_order(&adj).into_iter().filter(|&i| assign[i] == u32::MAX).collect();
    let total: f64 = free.iter().map(|&i| weight[i]).sum();
    let unit = |i: usize| if total > 0.0 { weight[i] } else { 1.0 };
    let total = if total > 0.0 { total } else { free.len() as f64 };
    let cap_total: f64 = allowed.iter().map(|&v| inst.vm_capacity[v as usize]).sum();
    let mut k = 0;
    let mut boundary = total * inst.vm_capacity[allowed[0] as usize] / cap_total;
    let mut cum = 0.0;
    for i in free {
        let mid = cum + unit(i) / 2.0;
        while mid > boundary && k + 1 < allowed.len() {
            k += 1;
            boundary += total * inst.vm_capacity[allowed[k] as usize] / cap_total;
        }
        assign[i] = allowed[k];
        cum += unit(i);
    }
    assign
}

/// Breadth-first order over all components, each from its lowest index.
fn bfs_order(adj: &[Vec<u32>]) -> Vec<usize> {
    let mut seen = vec![false; adj.len()];
    let mut order = Vec::with_capacity(adj.len());
    let mut queue = VecDeque::new();
    for s in 0..adj.len() {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        queue.push_back(s);
        while let Some(u) = queue.pop_front() {
            order.push(u);
            for &v in &adj[u] {
                if !seen[v as usize] {
                    seen[v as usize] = true;
                    queue.push_back(v as usize);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;
