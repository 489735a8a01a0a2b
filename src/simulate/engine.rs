//! The window accounting of SPEC §6 (the paper's reading), for one run.
//!
//! A new window of T_p virtual seconds starts at a trigger (a sink change,
//! seen `detect_s` after it happens) or when the current window ends. At a
//! window's start the prediction is the load just measured (last value;
//! the monitor sees the load of `detect_s` ago). If the prediction differs
//! from the one the placement was last optimised for, the optimiser starts
//! from the current placement and spends the first T_o virtual seconds of
//! the window, while the experiment runs on the old placement; if it returns
//! φ′ (χ < 0 on the prediction) the experiment pauses T_r real seconds and
//! the rest of the window runs on φ′. A window cut short by a trigger before
//! T_o has passed discards the optimiser's answer. Runtime accrues at the
//! actual load: Σ (virtual span × τ(placement in force, actual load)) + Σ T_r.
//! Runtime without NETbalance: Σ_k epoch_s · τ(φ0, load_k).
//!
//! Complexity: O(windows) optimiser calls at most (one per distinct
//! prediction), each bounded by the move budget, plus O(|vnodes| + |links|)
//! per τ evaluation.

use super::scenario::{routes_with, sink_load, sink_sequence};
use crate::cost::{self, Instance, Load, Window};
use crate::place::{self as placer, Budget, PlaceOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Everything a run needs besides the instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window: Window,
    pub epochs: usize,
    /// Virtual seconds between sink changes.
    pub epoch_s: f64,
    /// Delay before a sink change is seen (0: at once).
    pub detect_s: f64,
    /// R, Mbit/s every vnode streams to the sink.
    pub rate_mbps: f64,
    /// CPU-seconds per Mbit received or sent.
    pub c_proc: f64,
    /// Optimiser budget per re-placement (T_o × moves per second).
    pub moves: u64,
    /// Optimiser budget for the initial placement.
    pub initial_moves: u64,
}

/// What happened at a window's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The prediction equals the one the placement was optimised for.
    Skip,
    /// Optimised; no φ′ with χ < 0.
    Stay,
    /// Optimised; migrated to φ′.
    Migrate,
    /// The window ended before T_o: the optimiser's answer came too late.
    Short,
}

/// One window of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRecord {
    pub run: usize,
    /// Virtual start and end of the window (s).
    pub t: f64,
    pub t_end: f64,
    /// Real time at the window's start (s).
    pub real_t: f64,
    /// Epoch (sink) in force at the window's start.
    pub epoch: usize,
    pub sink: String,
    /// Epoch whose load the prediction is.
    pub predicted_epoch: usize,
    /// τ of the placement in force before the decision, at the actual load.
    pub tau_before: f64,
    /// τ of the placement in force after the decision, at the actual load.
    pub tau: f64,
    /// τ of the initial placement φ0 at the actual load (without NETbalance).
    pub tau_without: f64,
    pub decision: Decision,
    /// χ of the optimiser's answer on the prediction (s); absent when not optimised.
    pub chi: Option<f64>,
    /// Migration pause (real s).
    pub t_r: f64,
    /// Vnodes migrated.
    pub moved: usize,
    /// Real seconds this window took, pause included.
    pub real_s: f64,
}

/// One run: its windows and both runtimes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub run: usize,
    pub sinks: Vec<String>,
    pub windows: Vec<WindowRecord>,
    pub runtime_with: f64,
    pub runtime_without: f64,
    pub relative_runtime: f64,
    pub migrations: usize,
    pub migration_s: f64,
    pub moves_evaluated: u64,
}

/// A seed for run `run` and purpose `salt`, independent of thread count.
pub fn derive_seed(seed: u64, run: usize, salt: u64) -> u64 {
    let mut x = seed ^ (run as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 29)
}

/// The loads of every epoch of run `run` (sinks drawn from the run's seed).
pub fn epoch_loads(inst: &Instance, s: &Settings, run: usize, seed: u64) -> (Vec<u32>, Vec<Load>) {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, run, 1));
    let sinks = sink_sequence(&mut rng, inst.n_vnodes(), s.epochs);
    let adj = super::scenario::adjacency(inst);
    let loads = sinks
        .iter()
        .map(|&k| sink_load(inst, &routes_with(&adj, k), s.rate_mbps, s.c_proc))
        .collect();
    (sinks, loads)
}

/// Run the scenario once: draw the sinks, place for the first, then account
/// window by window.
pub fn run(inst: &Instance, s: &Settings, run: usize, seed: u64) -> RunResult {
    let (sinks, loads) = epoch_loads(inst, s, run, seed);
    let opts = PlaceOptions {
        budget: Budget::Moves(s.initial_moves),
        seed: derive_seed(seed, run, 2),
        constraints: Default::default(),
    };
    let first = placer::initial(inst, &loads[0], &opts);
    let mut result = account(inst, s, &loads, first.assignment, |load, current, k| {
        let opts = PlaceOptions {
            budget: Budget::Moves(s.moves),
            seed: derive_seed(seed, run, 3 + k as u64),
            constraints: Default::default(),
        };
        placer::replace(inst, load, s.window, current, &opts)
    });
    result.run = run;
    result.moves_evaluated += first.moves_evaluated;
    result.sinks = sinks.iter().map(|&k| inst.vnode_ids[k as usize].clone()).collect();
    for w in &mut result.windows {
        w.run = run;
        w.sink = result.sinks[w.epoch].clone();
    }
    result
}

/// τ of one placement per epoch, computed on demand.
struct TauCache<'a> {
    inst: &'a Instance,
    loads: &'a [Load],
    tau: Vec<Option<f64>>,
}

impl<'a> TauCache<'a> {
    fn new(inst: &'a Instance, loads: &'a [Load]) -> Self {
        TauCache {
            inst,
            loads,
            tau: vec![None; loads.len()],
        }
    }
    fn get(&mut self, assign: &[u32], k: usize) -> f64 {
        *self.tau[k].get_or_insert_with(|| cost::tau(self.inst, &self.loads[k], assign))
    }
    fn reset(&mut self) {
        self.tau.iter_mut().for_each(|t| *t = None);
    }
}

/// The accounting itself, with the optimiser passed in (`optimise(prediction,
/// current, window index)`), so that tests can drive it with a fixed answer.
/// `loads[k]` is the actual load of epoch k; `phi0` the initial placement.
pub fn account<F>(inst: &Instance, s: &Settings, loads: &[Load], phi0: Vec<u32>, mut optimise: F) -> RunResult
where
    F: FnMut(&Load, &[u32], usize) -> placer::Outcome,
{
    let epochs = loads.len();
    let total = epochs as f64 * s.epoch_s;
    let epoch_at = |t: f64| ((t / s.epoch_s).floor().max(0.0) as usize).min(epochs - 1);
    let mut without = TauCache::new(inst, loads);
    let runtime_without: f64 = (0..epochs).map(|k| s.epoch_s * without.get(&phi0, k)).sum();
    let triggers: Vec<f64> = (1..epochs)
        .map(|k| k as f64 * s.epoch_s + s.detect_s)
        .filter(|&t| t < total)
        .collect();

    let mut phi = phi0.clone();
    let mut in_force = TauCache::new(inst, loads);
    // Runtime of [a, b) on the placement in force, split at epoch boundaries.
    let span = |cache: &mut TauCache, phi: &[u32], a: f64, b: f64| -> f64 {
        let mut real = 0.0;
        let mut t = a;
        while t < b - 1e-9 {
            let k = epoch_at(t + 1e-9);
            let end = b.min((k + 1) as f64 * s.epoch_s);
            real += (end - t) * cache.get(phi, k);
            t = end;
        }
        real
    };
    let mut optimised_for = Some(0usize);
    let (mut t, mut real) = (0.0f64, 0.0f64);
    let mut windows = Vec::new();
    let (mut migrations, mut migration_s, mut evaluated) = (0usize, 0.0f64, 0u64);
    while t < total - 1e-9 {
        let predicted = epoch_at((t - s.detect_s).max(0.0) + 1e-9);
        let next_trigger = triggers.iter().copied().find(|&x| x > t + 1e-9).unwrap_or(total);
        let t_end = (t + s.window.tp).min(next_trigger).min(total);
        let epoch = epoch_at(t + 1e-9);
        let tau_before = in_force.get(&phi, epoch);
        let real_t = real;
        let (mut decision, mut chi, mut t_r, mut moved) = (Decision::Skip, None, 0.0, 0);
        if optimised_for == Some(predicted) {
            real += span(&mut in_force, &phi, t, t_end);
        } else if t_end - t < s.window.to - 1e-9 {
            decision = Decision::Short;
            real += span(&mut in_force, &phi, t, t_end);
        } else {
            optimised_for = Some(predicted);
            let out = optimise(&loads[predicted], &phi, windows.len());
            evaluated += out.moves_evaluated;
            chi = out.chi;
            let split = t + s.window.to;
            real += span(&mut in_force, &phi, t, split);
            decision = Decision::Stay;
            if out.changed && out.chi.is_some_and(|c| c < 0.0) {
                decision = Decision::Migrate;
                t_r = cost::t_r(inst, &phi, &out.assignment);
                moved = phi.iter().zip(&out.assignment).filter(|(a, b)| a != b).count();
                real += t_r;
                migrations += 1;
                migration_s += t_r;
                phi = out.assignment;
                in_force.reset();
            }
            real += span(&mut in_force, &phi, split, t_end);
        }
        windows.push(WindowRecord {
            run: 0,
            t,
            t_end,
            real_t,
            epoch,
            sink: String::new(),
            predicted_epoch: predicted,
            tau_before,
            tau: in_force.get(&phi, epoch),
            tau_without: without.get(&phi0, epoch),
            decision,
            chi,
            t_r,
            moved,
            real_s: real - real_t,
        });
        t = t_end;
    }
    RunResult {
        run: 0,
        sinks: Vec::new(),
        windows,
        runtime_with: real,
        runtime_without,
        relative_runtime: if runtime_without > 0.0 {
            real / runtime_without
        } else {
            1.0
        },
        migrations,
        migration_s,
        moves_evaluated: evaluated,
    }
}
