//! What applies a decision: nothing at all for what-if runs (`--replay`),
//! the migrate engine live ([`super::live::MigrateActuator`]).

use crate::cost::{Assignment, Instance};
use crate::error::{Error, Result};

/// The end of an [`Actuator::apply`] that left the testbed consistent.
#[derive(Debug)]
pub struct Applied {
    /// The placement in force now: the target, or after a recovered
    /// failure whatever the rollback reached.
    pub reached: Assignment,
    /// The measured pause of the experiment (s); `None` when nothing was
    /// measured (what-if): the loop then accounts the estimated T_r.
    pub pause_s: Option<f64>,
    /// A failure after which the testbed was put back into a consistent
    /// placement ([`Error::HostRecovered`]): the loop records `reached`,
    /// then stops with this error (exit 3).
    pub failure: Option<Error>,
    /// The dirty rate (MB/s) each pre-copy move measured of its vnode
    /// (vnode index, rate): the loop prices that vnode's next move with it.
    pub dirty_mb_s: Vec<(usize, f64)>,
}

/// Brings the testbed from one placement to another.
pub trait Actuator {
    /// Migrate from `from` to `to` (VM index per vnode). `Err` means the
    /// testbed may be inconsistent (the migrate journal says how far it got).
    fn apply(&mut self, inst: &Instance, from: &[u32], to: &[u32]) -> Result<Applied>;
}

/// Touches nothing: the loop accounts the migration with the estimated T_r.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhatIf;

impl Actuator for WhatIf {
    fn apply(&mut self, _inst: &Instance, _from: &[u32], to: &[u32]) -> Result<Applied> {
        Ok(Applied {
            reached: to.to_vec(),
            pause_s: None,
            failure: None,
            dirty_mb_s: Vec::new(),
        })
    }
}
