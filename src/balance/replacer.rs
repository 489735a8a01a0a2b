//! The optimiser the loop asks for a candidate placement each window, and
//! its implementation by the placer ([`crate::place::replace`]).

use crate::cost::{Assignment, Instance, Load, Window};
use crate::error::Result;
use crate::place::{self, Budget, Constraints, PlaceOptions};

/// What the loop asks the optimiser in one window.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub inst: &'a Instance,
    /// The predicted load.
    pub load: &'a Load,
    /// The placement in force.
    pub current: &'a [u32],
    pub window: Window,
    /// At most this many vnodes may move (the loop enforces it anyway).
    pub max_moves: Option<usize>,
    /// The window's number (counted across restarts).
    pub number: u64,
}

/// Proposes a re-placement. The loop decides on it ([`super::decide()`]): a
/// candidate is only a proposal.
pub trait Replacer {
    /// A candidate from `req.current` for `req.load`, found within the
    /// window's budget T_o.
    fn replace(&mut self, req: &Request<'_>) -> Result<Assignment>;
}

impl<F> Replacer for F
where
    F: FnMut(&Instance, &Load, &[u32]) -> Assignment,
{
    fn replace(&mut self, req: &Request<'_>) -> Result<Assignment> {
        Ok(self(req.inst, req.load, req.current))
    }
}

/// The annealer of [`crate::place`]. Each window searches with the seed
/// `seed + window number`, so that a replay with a move budget gives the
/// same log whether or not it was stopped and restarted.
#[derive(Debug, Clone, Copy)]
pub struct Placer {
    pub budget: Budget,
    pub seed: u64,
}

impl Placer {
    fn options(&self, number: u64, max_moves: Option<usize>) -> PlaceOptions {
        PlaceOptions {
            budget: self.budget,
            seed: self.seed.wrapping_add(number),
            constraints: Constraints {
                max_moves,
                ..Constraints::default()
            },
        }
    }

    /// An initial placement for `load` (minimise τ): where a run starts when
    /// no placement is in force.
    pub fn initial(&self, inst: &Instance, load: &Load) -> Assignment {
        place::initial(inst, load, &self.options(0, None)).assignment
    }
}

impl Replacer for Placer {
    fn replace(&mut self, req: &Request<'_>) -> Result<Assignment> {
        let opts = self.options(req.number, req.max_moves);
        Ok(place::replace(req.inst, req.load, req.window, req.current, &opts).assignment)
    }
}
