//! Simulated annealing over relocate and swap moves (SPEC §5).
//!
//! The annealer minimises the objective `w·τ + T_r` (initial placement:
//! w = 1 and no T_r; re-placement: w = T_p − T_o, so the objective minus
//! `w·τ(φ)` is χ). It walks on the energy `objective + w·γ·rms`, where `rms`
//! is the root mean square of the VM and NIC utilisations: τ alone is a
//! plateau (only the bottleneck counts), the spread term rewards every step
//! towards balance and fewer crossing links. The best state is kept by the
//! objective (ties: lower energy), so the spread never makes a result worse.
//!
//! Proposals are biased towards moves that can pay: a vnode to the VM of one
//! of its neighbours, a vnode off the bottleneck VM (or a VM of the bottleneck
//! host), and swaps with a vnode of the target VM. The temperature falls
//! geometrically from T₀ (the mean uphill step of a sample of proposals) to
//! T₀·10⁻⁴ over the budget: a move count, or the wall clock checked every
//! [`CHECK_EVERY`] moves.
//!
//! Complexity: O(deg + log V) per move evaluated (see [`super::evaluator`]),
//! plus O(|vnodes|) per new best state left behind (a copy).

use super::evaluator::{Evaluator, Move, Score};
use super::{Budget, Constraints, Progress};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Moves between clock checks (and progress reports).
pub const CHECK_EVERY: u64 = 256;
/// Moves between full recomputations of the evaluator's sums.
const RESYNC_EVERY: u64 = 1 << 16;
/// Weight of the spread term relative to τ.
const SPREAD_WEIGHT: f64 = 0.25;
/// Final temperature relative to the initial one.
const COOLING_RATIO: f64 = 1e-4;
/// Proposals sampled to set the initial temperature.
const CALIBRATION_SAMPLES: u64 = 200;

/// What the annealer optimises and within which limits.
pub struct Params<'c> {
    pub budget: Budget,
    /// The weight w of τ in the objective `w·τ + T_r`.
    pub tau_weight: f64,
    pub constraints: &'c Constraints,
}

/// The best assignment found.
pub struct Found {
    pub assignment: Vec<u32>,
    pub score: Score,
    pub moves_evaluated: u64,
}

/// Proposal machinery: which vnodes may move and where.
struct Proposer {
    movable: Vec<u32>,
    is_movable: Vec<bool>,
    allowed: Vec<u32>,
    is_allowed: Vec<bool>,
    /// VMs of every host (for a NIC bottleneck).
    host_vms: Vec<Vec<u32>>,
}

impl Proposer {
    fn new(ev: &Evaluator, c: &Constraints) -> Proposer {
        let inst = ev.instance();
        let is_movable: Vec<bool> = (0..inst.n_vnodes()).map(|n| c.pin_of(n).is_none()).collect();
        let is_allowed: Vec<bool> = (0..inst.n_vms()).map(|v| c.allows(v)).collect();
        let mut host_vms = vec![Vec::new(); inst.n_hosts()];
        for (v, &h) in inst.vm_host.iter().enumerate() {
            host_vms[h as usize].push(v as u32);
        }
        Proposer {
            movable: (0..inst.n_vnodes() as u32).filter(|&n| is_movable[n as usize]).collect(),
            allowed: (0..inst.n_vms() as u32).filter(|&v| is_allowed[v as usize]).collect(),
            is_movable,
            is_allowed,
            host_vms,
        }
    }

    fn can_search(&self) -> bool {
        !self.movable.is_empty() && self.allowed.len() >= 2
    }

    /// A random movable vnode on VM `v`, if one is found quickly.
    fn member_of(&self, ev: &Evaluator, v: u32, rng: &mut ChaCha8Rng) -> Option<u32> {
        let members = ev.members(v);
        if members.is_empty() {
            return None;
        }
        (0..4).map(|_| members[rng.gen_range(0..members.len())]).find(|&n| self.is_movable[n as usize])
    }

    /// A target VM for vnode `n`: a neighbour's VM, else a random allowed VM.
    fn target_for(&self, ev: &Evaluator, n: u32, prefer_neighbour: bool, rng: &mut ChaCha8Rng) -> u32 {
        let nbrs = ev.neighbours(n);
        if prefer_neighbour && !nbrs.is_empty() {
            let v = ev.assignment()[nbrs[rng.gen_range(0..nbrs.len())].0 as usize];
            if v != ev.assignment()[n as usize] && self.is_allowed[v as usize] {
                return v;
            }
        }
        self.allowed[rng.gen_range(0..self.allowed.len())]
    }

    /// Propose a move (never a no-op), or `None` after a few failed tries.
    fn propose(&self, ev: &Evaluator, rng: &mut ChaCha8Rng) -> Option<Move> {
        let assign = ev.assignment();
        for _ in 0..8 {
            let roll: f64 = rng.gen();
            let (n, to) = if roll < 0.15 {
                // Off the bottleneck: the busiest VM, or a VM of the busiest NIC's host.
                let v = match ev.nic_bottleneck() {
                    Some(h) => {
                        let vms = &self.host_vms[h as usize];
                        vms[rng.gen_range(0..vms.len())]
                    }
                    None => ev.busiest_vm(),
                };
                let Some(n) = self.member_of(ev, v, rng) else { continue };
                (n, self.target_for(ev, n, rng.gen_bool(0.5), rng))
            } else {
                let n = self.movable[rng.gen_range(0..self.movable.len())];
                let nbrs = ev.neighbours(n);
                if roll < 0.9 && !nbrs.is_empty() {
                    let v = assign[nbrs[rng.gen_range(0..nbrs.len())].0 as usize];
                    if v == assign[n as usize] || !self.is_allowed[v as usize] {
                        continue;
                    }
                    (n, v)
                } else {
                    (n, self.target_for(ev, n, false, rng))
                }
            };
            if to == assign[n as usize] {
                continue;
            }
            if rng.gen_bool(0.2) {
                if let Some(m) = self.member_of(ev, to, rng) {
                    return Some(Move::Swap { a: n, b: m });
                }
            }
            return Some(Move::Relocate { vnode: n, to });
        }
        None
    }
}

fn objective(score: &Score, w: f64) -> f64 {
    w * score.tau + score.t_r
}

fn energy(score: &Score, w: f64, leaves: f64) -> f64 {
    objective(score, w) + w * SPREAD_WEIGHT * (score.spread.max(0.0) / leaves).sqrt()
}

/// Anneal from the evaluator's current assignment.
pub fn anneal(ev: &mut Evaluator, params: &Params, rng: &mut ChaCha8Rng, progress: &mut dyn FnMut(&Progress)) -> Found {
    let started = Instant::now();
    let proposer = Proposer::new(ev, params.constraints);
    let inst = ev.instance();
    let leaves = (inst.n_vms() + inst.n_hosts()) as f64;
    let w = params.tau_weight;
    let max_moves = params.constraints.max_moves.unwrap_or(usize::MAX);
    let mut current = ev.score();
    let mut best = Found { assignment: ev.assignment().to_vec(), score: current, moves_evaluated: 0 };
    if !proposer.can_search() {
        return best;
    }
    let (limit_moves, limit_time) = match params.budget {
        Budget::Moves(n) => (n, None),
        Budget::Time(d) => (u64::MAX, Some(d)),
    };
    let mut evaluated = 0u64;

    // T₀: the mean uphill energy step of a sample of proposals.
    let mut uphill = (0.0, 0u32);
    let e0 = energy(&current, w, leaves);
    for _ in 0..CALIBRATION_SAMPLES.min(limit_moves / 10) {
        if let Some(mv) = proposer.propose(ev, rng) {
            evaluated += 1;
            let d = energy(&ev.evaluate(mv), w, leaves) - e0;
            if d > 0.0 {
                uphill = (uphill.0 + d, uphill.1 + 1);
            }
        }
    }
    let t0 = if uphill.1 > 0 { uphill.0 / f64::from(uphill.1) } else { 1e-3 * e0.abs().max(1e-9) };

    let mut cur_energy = e0;
    let mut best_obj = objective(&current, w);
    let mut best_energy = e0;
    let mut at_best = true;
    let mut temperature = t0;
    let mut fraction = 0.0;
    let mut idle = 0u64;
    let mut last_report = Instant::now();
    loop {
        if evaluated >= limit_moves {
            break;
        }
        if evaluated % CHECK_EVERY == 0 || idle > 0 {
            fraction = match limit_time {
                Some(d) => started.elapsed().as_secs_f64() / d.as_secs_f64().max(1e-9),
                None => evaluated as f64 / limit_moves as f64,
            };
            if fraction >= 1.0 {
                break;
            }
            temperature = t0 * COOLING_RATIO.powf(fraction);
            if last_report.elapsed() >= Duration::from_millis(100) {
                last_report = Instant::now();
                progress(&Progress { fraction, moves_evaluated: evaluated, best_tau: best.score.tau, best_t_r: best.score.t_r });
            }
        }
        let Some(mv) = proposer.propose(ev, rng) else {
            // Nothing to propose in many tries (e.g. everything pinned to few VMs).
            idle += 1;
            if idle > 10_000 {
                break;
            }
            continue;
        };
        idle = 0;
        evaluated += 1;
        let next = ev.evaluate(mv);
        if next.moved > max_moves {
            continue;
        }
        let e = energy(&next, w, leaves);
        let delta = e - cur_energy;
        if delta > 0.0 && rng.gen::<f64>() >= (-delta / temperature).exp() {
            continue;
        }
        let obj = objective(&next, w);
        let new_best = obj < best_obj || (obj == best_obj && e < best_energy);
        if new_best {
            best_obj = obj;
            best_energy = e;
            best.score = next;
        } else if at_best {
            // Leaving the best state: keep a copy of it.
            best.assignment.copy_from_slice(ev.assignment());
        }
        at_best = new_best;
        ev.apply(mv);
        current = next;
        cur_energy = e;
        if evaluated % RESYNC_EVERY == 0 {
            ev.resync();
            current = ev.score();
            cur_energy = energy(&current, w, leaves);
        }
    }
    let _ = (fraction, current);
    if at_best {
        best.assignment.copy_from_slice(ev.assignment());
    }
    best.moves_evaluated = evaluated;
    best
}
