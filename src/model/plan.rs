//! A migration plan (model §1, §3): the moves, their schedule and the
//! estimated T_r broken down by phase and by VM.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    pub vnode: String,
    pub from: String,
    pub to: String,
    pub state_mb: f64,
    /// Planned start, seconds after the suspend phase ends.
    #[serde(default)]
    pub start_s: f64,
    /// Estimated duration of this move's pause (snapshot + transfer + restore + reattach).
    #[serde(default)]
    pub duration_s: f64,
}

/// The time T_r, split by phase. `total_s` is the model's T_r = max_v T_r(v);
/// the phases are those of the VM that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PhaseTimes {
    pub suspend_s: f64,
    pub snapshot_s: f64,
    pub transfer_s: f64,
    pub restore_s: f64,
    pub reattach_s: f64,
    pub resume_s: f64,
}

impl PhaseTimes {
    pub fn total(&self) -> f64 {
        self.suspend_s + self.snapshot_s + self.transfer_s + self.restore_s + self.reattach_s + self.resume_s
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MigrationEstimate {
    /// T_r in seconds (0 when nothing moves).
    pub total_s: f64,
    /// The VM whose T_r(v) is the largest, if anything moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_vm: Option<String>,
    /// Phases of the critical VM: its pause (they add up to `total_s` − `live_s`).
    pub by_phase: PhaseTimes,
    /// Of `total_s`, the seconds the experiment loses while it runs
    /// (post-copy page faults, pre-copy rounds: model §3.1); 0 in stop-copy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub live_s: f64,
    /// T_r(v) of every VM touched by a move.
    pub by_vm: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MigrationPlan {
    pub moves: Vec<Move>,
    /// Per VM, the indices into `moves` it takes part in, in execution order.
    pub schedule: BTreeMap<String, Vec<usize>>,
    /// The schedule's makespan (suspend + moves + resume), seconds.
    pub makespan_s: f64,
    pub estimate: MigrationEstimate,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}
