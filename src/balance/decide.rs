//! One window's decision (model §4): from the placement in force and the
//! optimiser's candidate under the predicted load, cut the candidate down to
//! `--max-moves`, compute T_r and χ with [`crate::cost`], and change only if
//! χ < 0 and the gain reaches `--min-gain`.

use super::record::Reason;
use crate::cost::{self, Assignment, Instance, Load, Window};

/// The safety limits of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// At most this many vnodes move in one window.
    pub max_moves: Option<usize>,
    /// Minimum gain −χ / ((T_p − T_o)·τ_now) for a change; 0 = any χ < 0.
    pub min_gain: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_moves: None,
            min_gain: 0.0,
        }
    }
}

/// What the decision found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The candidate after `--max-moves` (equal to the current placement when nothing moves).
    pub candidate: Assignment,
    pub tau_now: f64,
    pub tau_candidate: f64,
    pub t_r: f64,
    pub chi: f64,
    pub gain: f64,
    pub moves: usize,
    pub trimmed: bool,
    /// Apply the candidate.
    pub change: bool,
    pub reason: Reason,
}

/// Decide whether to move from `current` to `candidate` under `load`.
///
/// ```
/// use netbalance::balance::decide::{decide, Limits};
/// use netbalance::cost::{Instance, Window};
/// use netbalance::model::{Costs, Link, Testbed, Topology, Vnode};
/// let tb = Testbed::generate(2, 1, 10_000.0);
/// let mut topo = Topology::default();
/// topo.vnodes = vec![Vnode::new("a"), Vnode::new("b")];
/// topo.vnodes[0].cpu = Some(0.9);
/// topo.vnodes[1].cpu = Some(0.9);
/// let inst = Instance::new(&topo, &tb, Costs::default());
/// let load = inst.expected_load(&topo);
/// // both on VM 0 (τ 1.8): splitting them halves τ for a 0.433 s migration
/// let v = decide(&inst, &load, Window { tp: 10.0, to: 1.0 }, &[0, 0], vec![0, 1], Limits::default());
/// assert!(v.change && v.chi < 0.0 && v.moves == 1);
/// // the same with a window too short to pay back the migration
/// let v = decide(&inst, &load, Window { tp: 0.8, to: 0.5 }, &[0, 0], vec![0, 1], Limits::default());
/// assert!(!v.change && v.chi >= 0.0);
/// ```
///
/// Complexity: O(V + E) for τ and T_r; with `max_moves = k` below the
/// candidate's m moves, O(k·m·(V + E)) for the cut (greedy, see [`trim`]).
pub fn decide(
    inst: &Instance,
    load: &Load,
    window: Window,
    current: &[u32],
    candidate: Assignment,
    limits: Limits,
) -> Verdict {
    let mut candidate = candidate;
    let mut trimmed = false;
    if let Some(k) = limits.max_moves {
        if count_moves(current, &candidate) > k {
            candidate = trim(inst, load, current, &candidate, k);
            trimmed = true;
        }
    }
    let moves = count_moves(current, &candidate);
    let tau_now = cost::tau(inst, load, current);
    let tau_candidate = cost::tau(inst, load, &candidate);
    let t_r = cost::t_r(inst, current, &candidate);
    let chi = cost::chi(window, tau_now, tau_candidate, t_r);
    let rest = (window.tp - window.to) * tau_now;
    let gain = if rest > 0.0 { -chi / rest } else { 0.0 };
    let reason = if moves == 0 {
        Reason::NoCandidate
    } else if chi >= 0.0 || chi.is_nan() {
        Reason::ChiNotNegative
    } else if gain < limits.min_gain {
        Reason::BelowMinGain
    } else {
        Reason::Beneficial
    };
    Verdict {
        candidate,
        tau_now,
        tau_candidate,
        t_r,
        chi,
        gain,
        moves,
        trimmed,
        change: reason == Reason::Beneficial,
        reason,
    }
}

/// Number of vnodes whose VM differs.
pub fn count_moves(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// Keep at most `k` of the moves from `current` to `candidate`: greedily add
/// the move that gives the lowest τ (ties: lowest T_r, then lowest vnode
/// index), stopping early when no move lowers τ.
///
/// Complexity: O(k·m·(V + E)) for m candidate moves.
pub fn trim(inst: &Instance, load: &Load, current: &[u32], candidate: &[u32], k: usize) -> Assignment {
    let mut out = current.to_vec();
    let mut pending: Vec<usize> = (0..current.len()).filter(|&n| current[n] != candidate[n]).collect();
    let mut tau_out = cost::tau(inst, load, &out);
    for _ in 0..k {
        let mut best: Option<(f64, f64, usize)> = None;
        for (i, &n) in pending.iter().enumerate() {
            out[n] = candidate[n];
            let key = (cost::tau(inst, load, &out), cost::t_r(inst, current, &out));
            out[n] = current[n];
            if best.map_or(true, |(t, r, _)| key.0 < t || (key.0 == t && key.1 < r)) {
                best = Some((key.0, key.1, i));
            }
        }
        match best {
            Some((t, _, i)) if t < tau_out => {
                let n = pending.remove(i);
                out[n] = candidate[n];
                tau_out = t;
            }
            _ => break,
        }
    }
    out
}
