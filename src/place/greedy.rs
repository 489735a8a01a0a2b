//! The greedy baseline: repeatedly move one vnode from the most loaded VM
//! to the least loaded VM — the vnode whose move gives the lowest τ — while
//! that lowers τ.
//!
//! ```
//! use netbalance::cost::{self, Instance, Load};
//! use netbalance::model::{Costs, Testbed, Topology, Vnode};
//! let tb = Testbed::generate(1, 2, 1000.0);
//! let topo = Topology { vnodes: vec![Vnode::new("a"), Vnode::new("b")], links: vec![] };
//! let inst = Instance::new(&topo, &tb, Costs::default());
//! let load = Load { cpu: vec![0.5, 0.5], rate: vec![] };
//! let out = netbalance::place::greedy(&inst, &load, &[0, 0]);
//! assert_eq!(cost::tau(&inst, &load, &out), 0.5);
//! ```
//!
//! Complexity: O(|vnodes of the busiest VM| · (deg + log V) + V) per step;
//! τ falls strictly at every step.

use super::evaluator::{Evaluator, Move};
use crate::cost::{Assignment, Instance, Load};

/// Improve `start` greedily (no constraints); returns the assignment reached.
pub fn greedy(inst: &Instance, load: &Load, start: &[u32]) -> Assignment {
    let mut ev = Evaluator::new(inst, load, start.to_vec(), None);
    if inst.n_vms() < 2 {
        return start.to_vec();
    }
    for _ in 0..inst.n_vnodes().saturating_mul(4) {
        let from = ev.busiest_vm();
        let to = (0..inst.n_vms() as u32)
            .min_by(|&a, &b| ev.vm_utilisation(a).total_cmp(&ev.vm_utilisation(b)))
            .unwrap_or(0);
        if from == to {
            break;
        }
        let now = ev.score();
        let members = ev.members(from).to_vec();
        let mut best: Option<(f64, f64, u32)> = None;
        for n in members {
            let s = ev.evaluate(Move::Relocate { vnode: n, to });
            if best.map_or(true, |(t, sp, _)| (s.tau, s.spread) < (t, sp)) {
                best = Some((s.tau, s.spread, n));
            }
        }
        match best {
            Some((tau, _, n)) if tau < now.tau => ev.apply(Move::Relocate { vnode: n, to }),
            _ => break,
        }
    }
    ev.assignment().to_vec()
}
