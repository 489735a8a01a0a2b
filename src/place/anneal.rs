//! Simulated annealing over relocate and swap moves (model §5).
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
//! geometrically from T₀ (the mean uphill step of a sample of proposals;
//! the median for a re-placement, where every step also pays migration) to
//! T₀·10⁻⁴ over the budget: a move count, or the wall clock checked every
//! [`CHECK_EVERY`] moves.
//!
//! Complexity: O(deg + k) per move touching k VMs (see [`super::evaluator`]),
//! plus O(|vnodes|) per new best state left behind (a copy).

use super::evaluator::{Evaluator, Move, Score};
use super::rng::FastRng;
use super::{Budget, Constraints, SearchProgress};
use rand::Rng;
use std::time::{Duration, Instant};

/// Moves between clock checks (and progress reports).
pub const CHECK_EVERY: u64 = 256;
/// Moves between full recomputations of the evaluator's sums.
const RESYNC_EVERY: u64 = 1 << 16;
/// Weight of the spread term relative to τ.
const SPREAD_WEIGHT: f64 = 0.25;
/// Final temperature relative to the initial one.
const COOLING_RATIO: f64 = 1e-4;
/// Uphill moves the descent of a re-placement may chain before it must
/// beat the best state it left.
const LOOKAHEAD: usize = 32;
/// Ejection pairs in the descent of a re-placement: the heaviest vnodes
/// of the bottleneck VM that may move, and of a target VM that may leave.
const EJECT_FROM: usize = 4;
const EJECT_WHOM: usize = 2;
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
            movable: (0..inst.n_vnodes() as u32)
                .filter(|&n| is_movable[n as usize])
                .collect(),
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
    fn member_of(&self, ev: &Evaluator, v: u32, rng: &mut FastRng) -> Option<u32> {
        let members = ev.members(v);
        if members.is_empty() {
            return None;
        }
        (0..4)
            .map(|_| members[rng.below(members.len())])
            .find(|&n| self.is_movable[n as usize])
    }

    /// The allowed VM with the lowest utilisation among `vms`.
    fn least_utilised(&self, vms: impl Iterator<Item = u32>, ev: &Evaluator) -> Option<u32> {
        vms.filter(|&v| self.is_allowed[v as usize])
            .min_by(|&x, &y| ev.vm_utilisation(x).total_cmp(&ev.vm_utilisation(y)))
    }

    /// The VM of a neighbour of `n` on another (allowed) VM, if a few draws find one.
    fn foreign_vm(&self, ev: &Evaluator, n: u32, rng: &mut FastRng) -> Option<u32> {
        let nbrs = ev.neighbours(n);
        let own = ev.assignment()[n as usize];
        (0..4)
            .map(|_| ev.assignment()[nbrs[rng.below(nbrs.len())].0 as usize])
            .find(|&v| v != own && self.is_allowed[v as usize])
    }

    /// A target VM for vnode `n`: a neighbour's VM, else a random allowed VM.
    fn target_for(&self, ev: &Evaluator, n: u32, prefer_neighbour: bool, rng: &mut FastRng) -> u32 {
        let nbrs = ev.neighbours(n);
        if prefer_neighbour && !nbrs.is_empty() {
            let v = ev.assignment()[nbrs[rng.below(nbrs.len())].0 as usize];
            if v != ev.assignment()[n as usize] && self.is_allowed[v as usize] {
                return v;
            }
        }
        self.allowed[rng.below(self.allowed.len())]
    }

    /// Propose a move (never a no-op), or `None` after a few failed tries.
    /// Inlined: returned through memory, the move was read back as one
    /// 16-byte load of four fresh 4-byte stores, which the CPU cannot
    /// forward (~7 % of a move on AS-3356 under a random load).
    #[inline(always)]
    fn propose(&self, ev: &Evaluator, rng: &mut FastRng) -> Option<Move> {
        let assign = ev.assignment();
        for _ in 0..8 {
            let roll = rng.below(100) as u32;
            let (n, to) = if roll < 10 {
                // Off the bottleneck: the busiest VM, or a VM of the busiest NIC's host.
                let v = match ev.nic_bottleneck() {
                    Some(h) => {
                        let vms = &self.host_vms[h as usize];
                        vms[rng.below(vms.len())]
                    }
                    None => ev.busiest_vm(),
                };
                // The heaviest of a few members, to the least utilised of a few VMs.
                let Some(n) = (0..3)
                    .filter_map(|_| self.member_of(ev, v, rng))
                    .max_by(|&x, &y| ev.vnode_cpu(x).total_cmp(&ev.vnode_cpu(y)))
                else {
                    continue;
                };
                let to = match roll % 3 {
                    0 => self.target_for(ev, n, true, rng),
                    // Same host first: links to the rest stay off the NIC and cheaper.
                    1 => {
                        let vms = &self.host_vms[ev.instance().vm_host[v as usize] as usize];
                        self.least_utilised((0..3).map(|_| vms[rng.below(vms.len())]), ev)
                            .unwrap_or(v)
                    }
                    _ => self
                        .least_utilised((0..3).map(|_| self.allowed[rng.below(self.allowed.len())]), ev)
                        .unwrap_or(v),
                };
                (n, to)
            } else if roll < 85 && !ev.boundary().is_empty() {
                // Along a link that crosses VMs: to the neighbour's VM.
                let boundary = ev.boundary();
                let n = boundary[rng.below(boundary.len())];
                if !self.is_movable[n as usize] {
                    continue;
                }
                let Some(v) = self.foreign_vm(ev, n, rng) else { continue };
                (n, v)
            } else {
                let n = self.movable[rng.below(self.movable.len())];
                (n, self.target_for(ev, n, roll < 95, rng))
            };
            if to == assign[n as usize] {
                continue;
            }
            if rng.below(5) == 0 {
                if let Some(m) = self.member_of(ev, to, rng) {
                    return Some(Move::Swap { a: n, b: m });
                }
            }
            return Some(Move::Relocate { vnode: n, to });
        }
        None
    }
}

/// The temperature at `fraction` of the budget: T₀·ratio^fraction. Kept
/// out of line: inlined, the compiler hoisted the `powf` into every move.
#[inline(never)]
fn cooled(t0: f64, fraction: f64) -> f64 {
    t0 * COOLING_RATIO.powf(fraction)
}

fn objective(score: &Score, w: f64) -> f64 {
    w * score.tau + score.t_r
}

fn energy(score: &Score, w: f64, leaves: f64) -> f64 {
    objective(score, w) + w * SPREAD_WEIGHT * (score.spread.max(0.0) / leaves).sqrt()
}

/// Steepest descent off the bottleneck: move the member of the busiest VM
/// (or of a VM of the busiest NIC's host) to the VM — one of the same host or
/// of the 8 least utilised — that lowers the objective most; repeat while
/// it falls and `max_evals` and the `deadline` last. Returns the moves
/// evaluated. Runs before annealing: for a re-placement, a single good move
/// must first pay for the suspend/resume of two whole VMs, which the walk
/// rarely finds; for an initial placement it sets a floor for the walk (the
/// best state is kept).
///
/// In a re-placement the descent also looks ahead: when no move improves,
/// it keeps taking the best move as long as τ falls (up to [`LOOKAHEAD`]
/// in a row) and undoes that run at the end unless it reached a better
/// state. T_r(v) charges suspend/resume for all vnodes of v once, however
/// many leave it, so the first move off a crowded bottleneck VM is uphill
/// by ≥ 9.5 ms per vnode there and only a run of moves pays it back (the
/// Internet-like topology: 302 vnodes on the bottleneck, ≥ 2.9 s).
/// A re-placement also weighs [`ejections`] at every step.
///
/// Complexity: O((|members| + EJECT_FROM·EJECT_WHOM·(V/H + 8)) · (V/H + 8)
/// · (deg + V/H) + V log V) per step.
fn descend(
    ev: &mut Evaluator,
    proposer: &Proposer,
    w: f64,
    max_moves: usize,
    max_evals: u64,
    deadline: Option<Instant>,
) -> u64 {
    let inst = ev.instance();
    let leaves = (inst.n_vms() + inst.n_hosts()) as f64;
    let mut evaluated = 0u64;
    // Re-placement: moves taken uphill since the best state (vnode, its VM
    // before), undone at the end unless a later state beats the best.
    let lookahead = ev.base().is_some();
    let mut trail: Vec<(u32, u32)> = Vec::new();
    let start = ev.score();
    let (mut best_obj, mut best_e) = (objective(&start, w), energy(&start, w, leaves));
    while evaluated < max_evals && deadline.map_or(true, |d| Instant::now() < d) {
        let now = ev.score();
        let from = match ev.nic_bottleneck() {
            Some(h) => proposer.host_vms[h as usize]
                .iter()
                .copied()
                .max_by(|&x, &y| ev.vm_utilisation(x).total_cmp(&ev.vm_utilisation(y)))
                .unwrap_or(0),
            None => ev.busiest_vm(),
        };
        let mut targets: Vec<u32> = proposer.allowed.clone();
        targets.sort_by(|&x, &y| ev.vm_utilisation(x).total_cmp(&ev.vm_utilisation(y)).then(x.cmp(&y)));
        targets.truncate(8);
        let host = inst.vm_host[from as usize];
        targets.extend(
            proposer.host_vms[host as usize]
                .iter()
                .copied()
                .filter(|&v| proposer.is_allowed[v as usize]),
        );
        targets.sort_unstable();
        targets.dedup();
        let members: Vec<u32> = ev
            .members(from)
            .iter()
            .copied()
            .filter(|&n| proposer.is_movable[n as usize])
            .collect();
        let mut candidates: Vec<Move> = Vec::new();
        for &n in &members {
            candidates.extend(
                targets
                    .iter()
                    .filter(|&&to| to != from)
                    .map(|&to| Move::Relocate { vnode: n, to }),
            );
        }
        if lookahead {
            ejections(ev, proposer, from, &members, &targets, &mut candidates);
        }
        let mut best: Option<(f64, f64, f64, Move)> = None;
        for &mv in &candidates {
            if evaluated >= max_evals {
                break;
            }
            let s = ev.evaluate(mv);
            evaluated += 1;
            if s.moved > max_moves {
                continue;
            }
            let key = (objective(&s, w), energy(&s, w, leaves));
            if best.map_or(true, |(o, e, _, _)| key < (o, e)) {
                best = Some((key.0, key.1, s.tau, mv));
            }
        }
        match best {
            Some((o, e, _, mv)) if (o, e) < (best_obj, best_e) && o <= best_obj => {
                ev.apply(mv);
                trail.clear();
                (best_obj, best_e) = (o, e);
            }
            // Uphill while τ falls: the suspend/resume of a VM is paid once
            // for all its moves, so a run of moves may pay where one does not.
            Some((_, _, tau, mv)) if lookahead && trail.len() < LOOKAHEAD && tau < now.tau => {
                match mv {
                    Move::Relocate { vnode, .. } => trail.push((vnode, ev.assignment()[vnode as usize])),
                    Move::Eject { a, b, .. } => {
                        trail.push((a, ev.assignment()[a as usize]));
                        trail.push((b, ev.assignment()[b as usize]));
                    }
                    Move::Swap { .. } => unreachable!("the descent proposes no swaps"),
                }
                ev.apply(mv);
            }
            _ => break,
        }
    }
    for &(vnode, to) in trail.iter().rev() {
        ev.apply(Move::Relocate { vnode, to });
    }
    evaluated
}

/// Ejection pairs for the descent of a re-placement: one of the
/// [`EJECT_FROM`] heaviest `members` of `from` to a VM `to` of `targets`,
/// and one of the [`EJECT_WHOM`] heaviest movable vnodes of `to` out to
/// another VM of `targets`. Moving a heavy vnode onto a lightly loaded VM
/// with few vnodes (small fixed T_r) often overloads that VM unless its
/// occupant leaves in the same step: on the Internet-like topology after a
/// sink change, the hub belongs on the old sink's VM (one vnode) and the old
/// sink elsewhere; neither move pays alone.
///
/// Complexity: O(EJECT_FROM · EJECT_WHOM · |targets|² + |members| + Σ_to |members of to|).
fn ejections(ev: &Evaluator, proposer: &Proposer, from: u32, members: &[u32], targets: &[u32], out: &mut Vec<Move>) {
    let heaviest = |list: &[u32], k: usize| {
        let mut top: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&n| proposer.is_movable[n as usize])
            .collect();
        top.sort_by(|&x, &y| ev.vnode_cpu(y).total_cmp(&ev.vnode_cpu(x)).then(x.cmp(&y)));
        top.truncate(k);
        top
    };
    let movers = heaviest(members, EJECT_FROM);
    for &to in targets.iter().filter(|&&to| to != from) {
        for b in heaviest(ev.members(to), EJECT_WHOM) {
            for &a in &movers {
                out.extend(
                    targets
                        .iter()
                        .filter(|&&b_to| b_to != to)
                        .map(|&b_to| Move::Eject { a, b, to: b_to }),
                );
            }
        }
    }
}

/// Anneal from the evaluator's current assignment.
pub fn anneal(
    ev: &mut Evaluator,
    params: &Params,
    rng: &mut FastRng,
    progress: &mut dyn FnMut(&SearchProgress),
) -> Found {
    let started = Instant::now();
    let proposer = Proposer::new(ev, params.constraints);
    let inst = ev.instance();
    let leaves = (inst.n_vms() + inst.n_hosts()) as f64;
    let w = params.tau_weight;
    let max_moves = params.constraints.max_moves.unwrap_or(usize::MAX);
    let mut current = ev.score();
    let mut best = Found {
        assignment: ev.assignment().to_vec(),
        score: current,
        moves_evaluated: 0,
    };
    if !proposer.can_search() {
        return best;
    }
    let (limit_moves, limit_time) = match params.budget {
        Budget::Moves(n) => (n, None),
        Budget::Time(d) => (u64::MAX, Some(d)),
    };
    let mut evaluated = 0u64;
    {
        // At most half the budget.
        let deadline = limit_time.and_then(|d| started.checked_add(d / 2));
        evaluated += descend(ev, &proposer, w, max_moves, limit_moves.min(200_000) / 2, deadline);
        current = ev.score();
        best = Found {
            assignment: ev.assignment().to_vec(),
            score: current,
            moves_evaluated: 0,
        };
    }

    // T₀: the median uphill energy step of a sample of proposals.
    let mut uphill = Vec::new();
    let e0 = energy(&current, w, leaves);
    for _ in 0..CALIBRATION_SAMPLES.min(limit_moves / 10) {
        if let Some(mv) = proposer.propose(ev, rng) {
            evaluated += 1;
            let d = energy(&ev.evaluate(mv), w, leaves) - e0;
            if d > 0.0 {
                uphill.push(d);
            }
        }
    }
    // Initial placement: the mean (hot enough to reorganise); re-placement:
    // the median (every step there also pays migration time).
    uphill.sort_by(f64::total_cmp);
    let t0 = if uphill.is_empty() {
        1e-3 * e0.abs().max(1e-9)
    } else if ev.base().is_some() {
        uphill[uphill.len() / 2]
    } else {
        uphill.iter().sum::<f64>() / uphill.len() as f64
    };

    let mut cur_energy = e0;
    let mut best_obj = objective(&current, w);
    let mut best_energy = e0;
    let mut at_best = true;
    let mut temperature = t0;
    let mut fraction = 0.0;
    let mut idle = 0u64;
    let mut until_check = 0u64;
    let mut last_report = Instant::now();
    loop {
        if evaluated >= limit_moves {
            break;
        }
        if until_check == 0 {
            until_check = CHECK_EVERY;
            fraction = match limit_time {
                Some(d) => started.elapsed().as_secs_f64() / d.as_secs_f64().max(1e-9),
                None => evaluated as f64 / limit_moves as f64,
            };
            if fraction >= 1.0 {
                break;
            }
            temperature = cooled(t0, fraction);
            if last_report.elapsed() >= Duration::from_millis(100) {
                last_report = Instant::now();
                progress(&SearchProgress {
                    fraction,
                    moves_evaluated: evaluated,
                    best_tau: best.score.tau,
                    best_t_r: best.score.t_r,
                });
            }
        }
        until_check -= 1;
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
        // e^-40 < 1e-17: such a step is never taken; skip the draw.
        if delta > 0.0 && (delta > 40.0 * temperature || rng.gen::<f64>() >= (-delta / temperature).exp()) {
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
