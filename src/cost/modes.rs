//! mig(n) in each migration mode (model §3.1): the phases the experiment
//! pauses for, and the time it loses afterwards or beside the move while it
//! runs (`live_s`). With m the vnode's memory (MB), x the transfer cost of
//! the link class (ms/MB) and c the profile:
//!
//! ```text
//! stop-copy  pause = [m>0]·checkpoint + m·(snapshot + x + restore) + reattach    live = 0
//! post-copy  pause = state_dump + state_restore + reattach                       live = fault_fraction · m·x
//! pre-copy   pause = [m>0]·checkpoint + D_k·(snapshot + x) + m·restore + reattach  live = round_fraction · Σ_{i<k} D_i·(snapshot + x)
//!            D_0 = m,  D_{i+1} = min(m, q·D_i),  q = d·(snapshot + x)/1000
//! ```
//!
//! Complexity: O(1) per move for stop-copy and post-copy, O(max_rounds) for pre-copy.

use super::instance::Instance;
use crate::model::{MigrationMode, PhaseTimes, PreCopyCosts};

/// The cost of one move (or of the moves of one VM): its pause phases and
/// the time the experiment loses while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MoveCost {
    pub phases: PhaseTimes,
    /// Seconds lost while the experiment runs: post-copy page faults after
    /// resume, pre-copy rounds before the pause.
    pub live_s: f64,
}

impl MoveCost {
    /// What χ charges: the pause plus the time lost while running, seconds.
    pub fn total(&self) -> f64 {
        self.phases.total() + self.live_s
    }

    /// The pause alone, seconds.
    pub fn pause(&self) -> f64 {
        self.phases.total()
    }

    pub(crate) fn add(&mut self, other: &MoveCost) {
        let (a, b) = (&mut self.phases, &other.phases);
        a.suspend_s += b.suspend_s;
        a.snapshot_s += b.snapshot_s;
        a.transfer_s += b.transfer_s;
        a.restore_s += b.restore_s;
        a.reattach_s += b.reattach_s;
        a.resume_s += b.resume_s;
        self.live_s += other.live_s;
    }
}

/// Pre-copy's rounds for one vnode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rounds {
    /// k: the copy rounds made while the vnode runs.
    pub rounds: u32,
    /// Σ_{i<k} D_i: MB copied while the vnode runs.
    pub live_mb: f64,
    /// D_k: the dirty set copied in the pause (MB).
    pub last_mb: f64,
}

/// The rounds of pre-copy for memory `m` MB, dirty rate `d` MB/s and a copy
/// cost of `c` ms/MB (pre-dump plus transfer). Each round copies the set
/// dirtied during the one before; the rounds stop at `max_rounds`, once the
/// dirty set is at most `stop_mb`, or when a round does not shrink it (the
/// vnode dirties memory as fast as it is copied). O(max_rounds).
///
/// ```
/// use netbalance::cost::modes::pre_copy_rounds;
/// use netbalance::model::PreCopyCosts;
/// let p = PreCopyCosts { max_rounds: 5, stop_mb: 1.0, ..PreCopyCosts::default() };
/// // 100 MB, 2 MB/s, 20 ms/MB: q = 0.04; D = 100, 4, 0.16 → two rounds
/// let r = pre_copy_rounds(100.0, 2.0, 20.0, &p);
/// assert_eq!(r.rounds, 2);
/// assert!((r.live_mb - 104.0).abs() < 1e-9 && (r.last_mb - 0.16).abs() < 1e-9);
/// // dirtying faster than the copy: one round, then the pause takes it all
/// assert_eq!(pre_copy_rounds(100.0, 100.0, 20.0, &p).last_mb, 100.0);
/// ```
pub fn pre_copy_rounds(m: f64, d: f64, c: f64, p: &PreCopyCosts) -> Rounds {
    let q = d * c / 1000.0;
    let mut r = Rounds {
        rounds: 0,
        live_mb: 0.0,
        last_mb: m,
    };
    while r.rounds < p.max_rounds && r.last_mb > p.stop_mb {
        let next = (q * r.last_mb).min(m);
        r.live_mb += r.last_mb;
        r.rounds += 1;
        let shrank = next < r.last_mb;
        r.last_mb = next;
        if !shrank {
            break;
        }
    }
    r
}

/// mig(n) of vnode `n` from VM `from` to VM `to` in the instance's mode
/// (suspend and resume are per VM, not per move: zero here).
///
/// ```
/// use netbalance::model::{Testbed, Topology, Vnode, Costs, MigrationMode};
/// use netbalance::cost::{Instance, modes::move_cost};
/// let tb = Testbed::generate(2, 1, 1000.0);
/// let mut n = Vnode::new("a");
/// n.memory_mb = 100.0;
/// let topo = Topology { vnodes: vec![n], links: vec![] };
/// let inst = Instance::new(&topo, &tb, Costs::default()).with_mode(MigrationMode::PostCopy);
/// let c = move_cost(&inst, 0, 0, 1);
/// // pause 40 + 70 + 200 ms; then 10 % of 100 MB · 15 ms/MB lost to faults
/// assert!((c.pause() - 0.31).abs() < 1e-12 && (c.live_s - 0.15).abs() < 1e-12);
/// ```
pub fn move_cost(inst: &Instance, n: usize, from: u32, to: u32) -> MoveCost {
    let c = &inst.costs;
    let m = inst.memory_mb[n];
    let x = if inst.vm_host[from as usize] == inst.vm_host[to as usize] {
        c.transfer_ms_per_mb.host
    } else {
        c.transfer_ms_per_mb.net
    };
    let reattach_s = c.reattach_ms / 1000.0;
    // The fixed part of checkpoint and restore, for a vnode with state (model §3).
    let fixed_ms = if m > 0.0 { c.checkpoint_ms } else { 0.0 };
    match inst.mode {
        MigrationMode::StopCopy => MoveCost {
            phases: PhaseTimes {
                snapshot_s: (fixed_ms + m * c.snapshot_ms_per_mb) / 1000.0,
                transfer_s: m * x / 1000.0,
                restore_s: m * c.restore_ms_per_mb / 1000.0,
                reattach_s,
                ..PhaseTimes::default()
            },
            live_s: 0.0,
        },
        MigrationMode::PostCopy => MoveCost {
            phases: PhaseTimes {
                snapshot_s: c.post_copy.state_dump_ms / 1000.0,
                restore_s: c.post_copy.state_restore_ms / 1000.0,
                reattach_s,
                ..PhaseTimes::default()
            },
            live_s: c.post_copy.fault_fraction * m * x / 1000.0,
        },
        MigrationMode::PreCopy => {
            let per_mb = c.snapshot_ms_per_mb + x;
            let r = pre_copy_rounds(m, inst.dirty_rate(n), per_mb, &c.pre_copy);
            MoveCost {
                phases: PhaseTimes {
                    snapshot_s: (fixed_ms + r.last_mb * c.snapshot_ms_per_mb) / 1000.0,
                    transfer_s: r.last_mb * x / 1000.0,
                    restore_s: m * c.restore_ms_per_mb / 1000.0,
                    reattach_s,
                    ..PhaseTimes::default()
                },
                live_s: c.pre_copy.round_fraction * r.live_mb * per_mb / 1000.0,
            }
        }
    }
}
