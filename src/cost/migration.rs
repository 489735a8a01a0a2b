//! The migration time T_r (model §3, the paper's eq. 2 and Table 1).
//!
//! ```text
//! mig(n)  = [m > 0]·checkpoint + m·(snapshot + transfer(k) + restore) + reattach    (stop-copy; other modes: model §3.1, [`modes`])
//! T_r(v)  = suspend·|vnodes of v| + Σ_{moves from or to v} mig(n) + resume·|vnodes of v|
//! T_L     = (suspend + resume)·max_{local v}|vnodes of v| + Σ_{moves between local VMs} mig(n) / local_cpus   (with local_cpus)
//! T_r     = max(max_v T_r(v) over the VMs touched by a move, T_L); 0 if nothing moves
//! ```
//!
//! Complexity: O(|vnodes| + |VMs|) for the estimate; the schedule sorts the
//! moves, O(m log m).

use super::instance::Instance;
use super::modes::{self, MoveCost};
use crate::model::{MigrationEstimate, MigrationPlan, Move, PhaseTimes};

/// Phases of one move of vnode `n` from VM `from` to VM `to` (ms → s): its
/// pause in the instance's mode ([`modes::move_cost`] adds what it costs
/// while the experiment runs).
pub fn move_phases(inst: &Instance, n: usize, from: u32, to: u32) -> PhaseTimes {
    modes::move_cost(inst, n, from, to).phases
}

/// mig(n): what moving vnode `n` from `from` to `to` costs the experiment in
/// the instance's mode (pause plus time lost while running), seconds.
///
/// ```
/// use netbalance::model::{Testbed, Topology, Vnode, Costs};
/// use netbalance::cost::{Instance, migration::move_time_s};
/// let tb = Testbed::generate(2, 1, 1000.0);
/// let topo = Topology { vnodes: vec![Vnode::new("a")], links: vec![] };
/// let inst = Instance::new(&topo, &tb, Costs::default());
/// // 10 MB across hosts: 10·(4.6 + 15.0 + 1.8) ms + 200 ms = 0.414 s
/// assert!((move_time_s(&inst, 0, 0, 1) - 0.414).abs() < 1e-12);
/// ```
pub fn move_time_s(inst: &Instance, n: usize, from: u32, to: u32) -> f64 {
    modes::move_cost(inst, n, from, to).total()
}

/// The cost T_r(v) of every VM touched by a move between two assignments,
/// by phase (`None` for untouched VMs).
pub fn per_vm_costs(inst: &Instance, from: &[u32], to: &[u32]) -> Vec<Option<MoveCost>> {
    let mut count = vec![0usize; inst.n_vms()];
    for &v in from {
        count[v as usize] += 1;
    }
    let mut per: Vec<Option<MoveCost>> = vec![None; inst.n_vms()];
    for (n, (&a, &b)) in from.iter().zip(to).enumerate() {
        if a == b {
            continue;
        }
        let c = modes::move_cost(inst, n, a, b);
        for v in [a, b] {
            per[v as usize].get_or_insert_with(MoveCost::default).add(&c);
        }
    }
    for (v, slot) in per.iter_mut().enumerate() {
        if let Some(c) = slot {
            c.phases.suspend_s = inst.costs.suspend_ms * count[v] as f64 / 1000.0;
            c.phases.resume_s = inst.costs.resume_ms * count[v] as f64 / 1000.0;
        }
    }
    per
}

/// The label of the local machine where it sets T_r ([`local_cost`]).
pub const LOCAL_MACHINE: &str = "(local machine)";

/// T_L: the costs of the moves between local VMs shared out over the
/// testbed's `local_cpus` (their sum divided by it), after the suspend and
/// before the resume of the local VM with the most vnodes; `None` without
/// `local_cpus` or without such a move.
pub fn local_cost(inst: &Instance, from: &[u32], to: &[u32]) -> Option<MoveCost> {
    let cpus = f64::from(inst.local_cpus?);
    let local = |v: u32| inst.vm_local[v as usize];
    let mut sum = MoveCost::default();
    let mut any = false;
    for (n, (&a, &b)) in from.iter().zip(to).enumerate() {
        if a != b && local(a) && local(b) {
            sum.add(&modes::move_cost(inst, n, a, b));
            any = true;
        }
    }
    if !any {
        return None;
    }
    let p = &mut sum.phases;
    for x in [
        &mut p.snapshot_s,
        &mut p.transfer_s,
        &mut p.restore_s,
        &mut p.reattach_s,
        &mut sum.live_s,
    ] {
        *x /= cpus;
    }
    let most = local_most_vnodes(inst, from) as f64;
    sum.phases.suspend_s = inst.costs.suspend_ms * most / 1000.0;
    sum.phases.resume_s = inst.costs.resume_ms * most / 1000.0;
    Some(sum)
}

/// The most vnodes any local VM holds under `assign`. O(n + V).
pub fn local_most_vnodes(inst: &Instance, assign: &[u32]) -> usize {
    let mut count = vec![0usize; inst.n_vms()];
    for &v in assign {
        count[v as usize] += 1;
    }
    (0..inst.n_vms())
        .filter(|&v| inst.vm_local[v])
        .map(|v| count[v])
        .max()
        .unwrap_or(0)
}

/// T_r(φ→φ′) in seconds.
pub fn t_r(inst: &Instance, from: &[u32], to: &[u32]) -> f64 {
    estimate(inst, from, to).total_s
}

/// T_r with its breakdown by phase (of the critical VM) and by VM.
pub fn estimate(inst: &Instance, from: &[u32], to: &[u32]) -> MigrationEstimate {
    let per = per_vm_costs(inst, from, to);
    let mut est = MigrationEstimate::default();
    if let Some(c) = local_cost(inst, from, to) {
        est.total_s = c.total();
        est.critical_vm = Some(LOCAL_MACHINE.to_string());
        est.by_phase = c.phases;
        est.live_s = c.live_s;
    }
    for (v, c) in per.iter().enumerate() {
        if let Some(c) = c {
            let t = c.total();
            est.by_vm.insert(inst.vm_names[v].clone(), t);
            if est.critical_vm.is_none() || t > est.total_s {
                est.total_s = t;
                est.critical_vm = Some(inst.vm_names[v].clone());
                est.by_phase = c.phases;
                est.live_s = c.live_s;
            }
        }
    }
    est
}

/// One move of a [`Plan`], by index: vnode `vnode` from VM `from` to VM `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanMove {
    pub vnode: usize,
    pub from: u32,
    pub to: u32,
    /// Planned start, seconds after the suspend phase ends.
    pub start_s: f64,
    /// Estimated duration of its pause (snapshot + transfer + restore + reattach).
    pub duration_s: f64,
}

/// A migration plan by index, as the migrate engine and its dispatcher use
/// it; [`Plan::render`] gives the names (the JSON [`MigrationPlan`] of
/// `cost`, `migrate --dry-run`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub moves: Vec<PlanMove>,
    /// Per VM index, the indices into `moves` it takes part in, in execution order.
    pub queues: Vec<Vec<usize>>,
    /// The schedule's makespan (suspend + moves + resume), seconds.
    pub makespan_s: f64,
    pub estimate: MigrationEstimate,
}

impl Plan {
    /// (from VM, to VM, modelled seconds) per move, indexed like `moves`.
    pub fn timed(&self) -> Vec<(u32, u32, f64)> {
        self.moves.iter().map(|m| (m.from, m.to, m.duration_s)).collect()
    }

    /// The plan with names (model §1). O(m + |VMs|).
    pub fn render(&self, inst: &Instance) -> MigrationPlan {
        MigrationPlan {
            moves: self
                .moves
                .iter()
                .map(|m| Move {
                    vnode: inst.vnode_ids[m.vnode].clone(),
                    from: inst.vm_names[m.from as usize].clone(),
                    to: inst.vm_names[m.to as usize].clone(),
                    state_mb: inst.memory_mb[m.vnode],
                    start_s: m.start_s,
                    duration_s: m.duration_s,
                })
                .collect(),
            schedule: self
                .queues
                .iter()
                .enumerate()
                .filter(|(_, q)| !q.is_empty())
                .map(|(v, q)| (inst.vm_names[v].clone(), q.clone()))
                .collect(),
            makespan_s: self.makespan_s,
            estimate: self.estimate.clone(),
        }
    }
}

/// The plan: moves in a schedule where moves sharing a VM run one after
/// another and others in parallel (greedy list scheduling, longest move
/// first, ties by vnode id), after all touched VMs suspend and before they
/// resume.
pub fn plan(inst: &Instance, from: &[u32], to: &[u32]) -> Plan {
    let mut moves: Vec<PlanMove> = from
        .iter()
        .zip(to)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(n, (&a, &b))| PlanMove {
            vnode: n,
            from: a,
            to: b,
            start_s: 0.0,
            duration_s: modes::move_cost(inst, n, a, b).pause(),
        })
        .collect();
    moves.sort_by(|x, y| {
        y.duration_s
            .total_cmp(&x.duration_s)
            .then_with(|| inst.vnode_ids[x.vnode].cmp(&inst.vnode_ids[y.vnode]))
    });
    let mut ready = vec![0.0f64; inst.n_vms()];
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); inst.n_vms()];
    let mut end = 0.0f64;
    for (i, m) in moves.iter_mut().enumerate() {
        let start = ready[m.from as usize].max(ready[m.to as usize]);
        m.start_s = start;
        let finish = start + m.duration_s;
        end = end.max(finish);
        for v in [m.from, m.to] {
            ready[v as usize] = finish;
            queues[v as usize].push(i);
        }
    }
    let est = estimate(inst, from, to);
    let (suspend, resume) = per_vm_costs(inst, from, to)
        .iter()
        .flatten()
        .fold((0.0f64, 0.0f64), |(s, r), c| {
            (s.max(c.phases.suspend_s), r.max(c.phases.resume_s))
        });
    let shared = local_cost(inst, from, to).map_or(0.0, |c| c.pause());
    let makespan_s = if moves.is_empty() {
        0.0
    } else {
        (suspend + end + resume).max(shared)
    };
    Plan {
        moves,
        queues,
        makespan_s,
        estimate: est,
    }
}
