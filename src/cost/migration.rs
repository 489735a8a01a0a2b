//! The migration time T_r (model §3, the paper's eq. 2 and Table 1).
//!
//! ```text
//! mig(n)  = [m > 0]·checkpoint + m·(snapshot + transfer(k) + restore) + reattach
//! T_r(v)  = suspend·|vnodes of v| + Σ_{moves from or to v} mig(n) + resume·|vnodes of v|
//! T_L     = max suspend + Σ_{moves between local VMs} mig(n) / local_cpus + max resume   (with local_cpus)
//! T_r     = max(max_v T_r(v) over the VMs touched by a move, T_L); 0 if nothing moves
//! ```
//!
//! Complexity: O(|vnodes| + |VMs|) for the estimate; the schedule sorts the
//! moves, O(m log m).

use super::instance::Instance;
use crate::model::{MigrationEstimate, MigrationPlan, Move, PhaseTimes};

/// Phases of one move of vnode `n` from VM `from` to VM `to` (ms → s).
pub fn move_phases(inst: &Instance, n: usize, from: u32, to: u32) -> PhaseTimes {
    let c = &inst.costs;
    let m = inst.memory_mb[n];
    let same_host = inst.vm_host[from as usize] == inst.vm_host[to as usize];
    let transfer = if same_host {
        c.transfer_ms_per_mb.host
    } else {
        c.transfer_ms_per_mb.net
    };
    let fixed = if m > 0.0 { c.checkpoint_ms } else { 0.0 };
    PhaseTimes {
        snapshot_s: (fixed + m * c.snapshot_ms_per_mb) / 1000.0,
        transfer_s: m * transfer / 1000.0,
        restore_s: m * c.restore_ms_per_mb / 1000.0,
        reattach_s: c.reattach_ms / 1000.0,
        ..PhaseTimes::default()
    }
}

/// mig(n): the time to move vnode `n` from `from` to `to`, seconds.
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
    move_phases(inst, n, from, to).total()
}

fn add(a: &mut PhaseTimes, b: &PhaseTimes) {
    a.suspend_s += b.suspend_s;
    a.snapshot_s += b.snapshot_s;
    a.transfer_s += b.transfer_s;
    a.restore_s += b.restore_s;
    a.reattach_s += b.reattach_s;
    a.resume_s += b.resume_s;
}

/// Phases of T_r(v) for every VM touched by a move between two assignments
/// (`None` for untouched VMs).
pub fn per_vm_phases(inst: &Instance, from: &[u32], to: &[u32]) -> Vec<Option<PhaseTimes>> {
    let mut count = vec![0usize; inst.n_vms()];
    for &v in from {
        count[v as usize] += 1;
    }
    let mut per: Vec<Option<PhaseTimes>> = vec![None; inst.n_vms()];
    for (n, (&a, &b)) in from.iter().zip(to).enumerate() {
        if a == b {
            continue;
        }
        let p = move_phases(inst, n, a, b);
        for v in [a, b] {
            add(per[v as usize].get_or_insert_with(PhaseTimes::default), &p);
        }
    }
    for (v, slot) in per.iter_mut().enumerate() {
        if let Some(p) = slot {
            p.suspend_s = inst.costs.suspend_ms * count[v] as f64 / 1000.0;
            p.resume_s = inst.costs.resume_ms * count[v] as f64 / 1000.0;
        }
    }
    per
}

/// The label of the local machine where it sets T_r ([`local_phases`]).
pub const LOCAL_MACHINE: &str = "(local machine)";

/// T_L: the phases of the moves between local VMs shared out over the
/// testbed's `local_cpus` (their sum divided by it), between the longest
/// suspend and resume of the VMs involved; `None` without `local_cpus` or
/// without such a move. `per_vm` is [`per_vm_phases`] of the same moves.
pub fn local_phases(inst: &Instance, from: &[u32], to: &[u32], per_vm: &[Option<PhaseTimes>]) -> Option<PhaseTimes> {
    let cpus = f64::from(inst.local_cpus?);
    let local = |v: u32| inst.vm_local[v as usize];
    let mut sum = PhaseTimes::default();
    let mut any = false;
    for (n, (&a, &b)) in from.iter().zip(to).enumerate() {
        if a != b && local(a) && local(b) {
            add(&mut sum, &move_phases(inst, n, a, b));
            any = true;
            for v in [a, b] {
                if let Some(p) = &per_vm[v as usize] {
                    sum.suspend_s = sum.suspend_s.max(p.suspend_s);
                    sum.resume_s = sum.resume_s.max(p.resume_s);
                }
            }
        }
    }
    if !any {
        return None;
    }
    for x in [
        &mut sum.snapshot_s,
        &mut sum.transfer_s,
        &mut sum.restore_s,
        &mut sum.reattach_s,
    ] {
        *x /= cpus;
    }
    Some(sum)
}

/// T_r(φ→φ′) in seconds.
pub fn t_r(inst: &Instance, from: &[u32], to: &[u32]) -> f64 {
    estimate(inst, from, to).total_s
}

/// T_r with its breakdown by phase (of the critical VM) and by VM.
pub fn estimate(inst: &Instance, from: &[u32], to: &[u32]) -> MigrationEstimate {
    let per = per_vm_phases(inst, from, to);
    let mut est = MigrationEstimate::default();
    if let Some(p) = local_phases(inst, from, to, &per) {
        est.total_s = p.total();
        est.critical_vm = Some(LOCAL_MACHINE.to_string());
        est.by_phase = p;
    }
    for (v, p) in per.iter().enumerate() {
        if let Some(p) = p {
            let t = p.total();
            est.by_vm.insert(inst.vm_names[v].clone(), t);
            if est.critical_vm.is_none() || t > est.total_s {
                est.total_s = t;
                est.critical_vm = Some(inst.vm_names[v].clone());
                est.by_phase = *p;
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
    /// Estimated duration (snapshot + transfer + restore + reattach).
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
            duration_s: move_time_s(inst, n, a, b),
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
    let (suspend, resume) = per_vm_phases(inst, from, to)
        .iter()
        .flatten()
        .fold((0.0f64, 0.0f64), |(s, r), p| (s.max(p.suspend_s), r.max(p.resume_s)));
    let shared = local_phases(inst, from, to, &per_vm_phases(inst, from, to)).map_or(0.0, |p| p.total());
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
