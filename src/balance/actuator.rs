//! What applies a decision: nothing at all for what-if runs (`--replay`), the
//! migrate engine live.

use crate::cost::Instance;
use crate::error::Result;

/// Brings the testbed from one placement to another.
pub trait Actuator {
    /// Migrate from `from` to `to` (VM index per vnode). Returns the measured
    /// pause in seconds, or `None` when nothing was measured (what-if).
    /// On failure the testbed must be left in a consistent placement, `from`
    /// ([`crate::Error::HostRecovered`]).
    fn apply(&mut self, inst: &Instance, from: &[u32], to: &[u32]) -> Result<Option<f64>>;
}

/// Touches nothing: the loop accounts the migration with the estimated T_r.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhatIf;

impl Actuator for WhatIf {
    fn apply(&mut self, _inst: &Instance, _from: &[u32], _to: &[u32]) -> Result<Option<f64>> {
        Ok(None)
    }
}
