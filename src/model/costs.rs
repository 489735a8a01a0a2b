//! Cost constants: CPU per Mbit by link class (model §2) and the migration
//! phases of the paper's Table 1 (model §3), and the post-copy and pre-copy
//! constants (model §3.1). A `calibrate` profile is this object as JSON;
//! every field may be left out and takes its default (so a profile written
//! before the migration modes still loads).

use super::mode::{PostCopyCosts, PreCopyCosts, MAX_PRE_COPY_ROUNDS};
use serde::{Deserialize, Serialize};

/// The class of a link under a placement: both ends in one VM, in two VMs of
/// one host, or on two hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkClass {
    Vm,
    Host,
    Net,
}

/// CPU-seconds per Mbit, by link class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerClass {
    pub vm: f64,
    pub host: f64,
    pub net: f64,
}

impl PerClass {
    pub fn get(&self, class: LinkClass) -> f64 {
        match class {
            LinkClass::Vm => self.vm,
            LinkClass::Host => self.host,
            LinkClass::Net => self.net,
        }
    }
}

/// Transfer cost in ms per MB, within a host or across hosts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCosts {
    pub host: f64,
    pub net: f64,
}

/// All cost constants of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Costs {
    /// CPU-seconds per Mbit charged to each VM holding an endpoint.
    pub cpu_per_mbit: PerClass,
    /// Suspend, per vnode of a touched VM (ms).
    pub suspend_ms: f64,
    /// Checkpoint, per MB of vnode memory (ms).
    pub snapshot_ms_per_mb: f64,
    /// Image transfer, per MB (ms).
    pub transfer_ms_per_mb: TransferCosts,
    /// Restore, per MB (ms).
    pub restore_ms_per_mb: f64,
    /// Checkpoint and restore, the part that does not grow with memory
    /// (ms per move of a vnode with state, `memory_mb` > 0; the paper's
    /// Table 1 counts it in `reattach_ms`, so its default is 0).
    pub checkpoint_ms: f64,
    /// Re-attaching a migrated vnode's links (ms per migrated vnode).
    pub reattach_ms: f64,
    /// Resume, per vnode of a touched VM (ms).
    pub resume_ms: f64,
    /// Post-copy constants (model §3.1).
    pub post_copy: PostCopyCosts,
    /// Pre-copy constants (model §3.1).
    pub pre_copy: PreCopyCosts,
    /// Free text: where these figures come from (e.g. "calibrate on h0, 2026-11-26").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            cpu_per_mbit: PerClass {
                vm: 0.0005,
                host: 0.002,
                net: 0.004,
            },
            suspend_ms: 6.0,
            snapshot_ms_per_mb: 4.6,
            transfer_ms_per_mb: TransferCosts { host: 13.1, net: 15.0 },
            restore_ms_per_mb: 1.8,
            checkpoint_ms: 0.0,
            reattach_ms: 200.0,
            resume_ms: 3.5,
            post_copy: PostCopyCosts::default(),
            pre_copy: PreCopyCosts::default(),
            source: None,
        }
    }
}

impl Costs {
    /// Check every figure is finite and not negative; returns the offending field.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fields = [
            ("cpu_per_mbit.vm", self.cpu_per_mbit.vm),
            ("cpu_per_mbit.host", self.cpu_per_mbit.host),
            ("cpu_per_mbit.net", self.cpu_per_mbit.net),
            ("suspend_ms", self.suspend_ms),
            ("snapshot_ms_per_mb", self.snapshot_ms_per_mb),
            ("transfer_ms_per_mb.host", self.transfer_ms_per_mb.host),
            ("transfer_ms_per_mb.net", self.transfer_ms_per_mb.net),
            ("restore_ms_per_mb", self.restore_ms_per_mb),
            ("checkpoint_ms", self.checkpoint_ms),
            ("reattach_ms", self.reattach_ms),
            ("resume_ms", self.resume_ms),
            ("post_copy.state_dump_ms", self.post_copy.state_dump_ms),
            ("post_copy.state_restore_ms", self.post_copy.state_restore_ms),
            ("pre_copy.dirty_mb_s", self.pre_copy.dirty_mb_s),
            ("pre_copy.stop_mb", self.pre_copy.stop_mb),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && (0.0..=crate::limits::MAX_VALUE).contains(&v)) {
                return Err((
                    name.to_string(),
                    format!("must be a number in [0, {:e}], got {v}", crate::limits::MAX_VALUE),
                ));
            }
        }
        for (name, v) in [
            ("post_copy.fault_fraction", self.post_copy.fault_fraction),
            ("pre_copy.round_fraction", self.pre_copy.round_fraction),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err((name.to_string(), format!("must be a fraction in [0, 1], got {v}")));
            }
        }
        if self.pre_copy.max_rounds > MAX_PRE_COPY_ROUNDS {
            return Err((
                "pre_copy.max_rounds".to_string(),
                format!(
                    "must be at most {MAX_PRE_COPY_ROUNDS}, got {}",
                    self.pre_copy.max_rounds
                ),
            ));
        }
        Ok(())
    }
}
