//! The optimiser the loop asks for a candidate placement each window.

use crate::cost::{Assignment, Instance, Load, Window};
use crate::error::Result;

/// Proposes a re-placement. The loop decides on it ([`super::decide`]): a
/// candidate is only a proposal.
pub trait Replacer {
    /// A candidate from `current` for the predicted `load`, found within the
    /// window's budget T_o (`window.to`), moving at most `max_moves` vnodes
    /// when the optimiser supports the limit (the loop enforces it anyway).
    fn replace(&mut self, inst: &Instance, load: &Load, current: &[u32], window: Window, max_moves: Option<usize>) -> Result<Assignment>;
}

impl<F> Replacer for F
where
    F: FnMut(&Instance, &Load, &[u32]) -> Assignment,
{
    fn replace(&mut self, inst: &Instance, load: &Load, current: &[u32], _window: Window, _max_moves: Option<usize>) -> Result<Assignment> {
        Ok(self(inst, load, current))
    }
}
