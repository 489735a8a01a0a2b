//! One run of the paper's scenario (model §6) through the balance engine
//! ([`crate::balance::Balancer`]): the scenario is the load source, the
//! clock is a fake one, the optimiser is the placer with a move budget
//! (T_o × moves per second), and the actuator is the what-if one. There is
//! no second window loop: what `simulate` accounts is what `balance` does.
//!
//! How the engine reads the scenario: epoch k's load holds from k·epoch_s
//! on (the actual load, [`ScenarioSource::actual`]); the monitor sees it
//! `detect_s` later (a sample at k·epoch_s + detect_s, which is also a
//! trigger: the window in progress ends there and a new one starts with
//! the new prediction). The predictor is the last value. A window whose
//! prediction is the one the placement was optimised for does not ask the
//! optimiser (the initial placement counts as optimised for epoch 0); a
//! window shorter than T_o does not either. Runtime accrues at the actual
//! load; the baseline is the initial placement φ0 kept all along, so the
//! runtime without NETbalance is Σ_k epoch_s · τ(φ0, load_k).
//!
//! Complexity: O(windows) optimiser calls at most (one per distinct
//! prediction), each bounded by the move budget, plus O(|vnodes| + |links|)
//! per τ evaluation (a few per window).

use super::scenario::{routes_with, sink_load, sink_sequence};
use crate::balance::{
    Balancer, Config, FakeClock, LastValue, Limits, LoadSource, Output, Position, Reason, Replacer, Request, Sample,
    Summary, TauPoint, WhatIf, WindowRecord,
};
use crate::cost::{Assignment, Instance, Load, Window};
use crate::error::Result;
use crate::place::{self as placer, Budget, PlaceOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::sync::atomic::AtomicBool;

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

impl Settings {
    /// The epoch (sink) in force at virtual time `t`.
    pub fn epoch_at(&self, t: f64) -> usize {
        ((t / self.epoch_s).floor().max(0.0) as usize).min(self.epochs.saturating_sub(1))
    }
}

/// One window of one run: the engine's record, with the scenario's view of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioWindow {
    pub run: usize,
    /// Epoch (sink) in force at the window's start.
    pub epoch: usize,
    /// Epoch whose load the prediction is (the one seen at the window's start).
    pub predicted_epoch: usize,
    pub sink: String,
    /// What the engine decided and accounted.
    #[serde(flatten)]
    pub record: WindowRecord,
}

/// One run: its windows, τ over time, and the engine's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub run: usize,
    pub sinks: Vec<String>,
    pub windows: Vec<ScenarioWindow>,
    /// τ from each point's `t` on, with NETbalance and with φ0 (for plots).
    pub tau: Vec<TauPoint>,
    /// `real_s` is the runtime with NETbalance, `baseline_s` without.
    pub summary: Summary,
    pub moves_evaluated: u64,
}

impl RunResult {
    pub fn runtime_with(&self) -> f64 {
        self.summary.real_s
    }
    pub fn runtime_without(&self) -> f64 {
        self.summary.baseline_s
    }
    pub fn relative_runtime(&self) -> f64 {
        self.summary.relative_runtime
    }
    /// Windows that migrated.
    pub fn migrations(&self) -> usize {
        self.summary.changes as usize
    }
    /// Σ T_r (real s).
    pub fn migration_s(&self) -> f64 {
        self.summary.t_r_total
    }
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

/// The scenario as a load source: epoch k's load from k·epoch_s on, seen
/// (sampled, and a trigger) at k·epoch_s + detect_s.
#[derive(Debug, Clone)]
pub struct ScenarioSource<'a> {
    settings: &'a Settings,
    loads: &'a [Load],
    next: usize,
}

impl<'a> ScenarioSource<'a> {
    pub fn new(settings: &'a Settings, loads: &'a [Load]) -> Self {
        ScenarioSource {
            settings,
            loads,
            next: 0,
        }
    }
    fn total(&self) -> f64 {
        self.loads.len() as f64 * self.settings.epoch_s
    }
    /// When epoch k's load is seen.
    fn seen_at(&self, k: usize) -> f64 {
        if k == 0 {
            0.0
        } else {
            k as f64 * self.settings.epoch_s + self.settings.detect_s
        }
    }
}

impl LoadSource for ScenarioSource<'_> {
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        while self.next < self.loads.len() && self.seen_at(self.next) <= until + 1e-9 {
            out.push(Sample {
                t: self.seen_at(self.next),
                load: self.loads[self.next].clone(),
                dirty_mb_s: Vec::new(),
            });
            self.next += 1;
        }
        Ok(out)
    }
    fn start(&self) -> Option<f64> {
        Some(0.0)
    }
    fn end(&self) -> Option<f64> {
        Some(self.total())
    }
    fn next_trigger(&self, after: f64) -> Option<f64> {
        (1..self.loads.len())
            .map(|k| self.seen_at(k))
            .find(|&x| x > after + 1e-9 && x < self.total())
    }
    fn actual(&self, from: f64, to: f64) -> Option<Vec<(f64, &Load)>> {
        let s = self.settings;
        let mut k = s.epoch_at(from + 1e-9).min(self.loads.len() - 1);
        let mut pieces = vec![(from, &self.loads[k])];
        while k + 1 < self.loads.len() && ((k + 1) as f64 * s.epoch_s) < to - 1e-9 {
            k += 1;
            pieces.push((k as f64 * s.epoch_s, &self.loads[k]));
        }
        Some(pieces)
    }
}

/// The optimiser of a run: [`placer::replace`] with a move budget, seeded
/// per run and window number.
#[derive(Debug, Clone)]
pub struct MoveBudgetPlacer {
    pub moves: u64,
    pub seed: u64,
    pub run: usize,
    /// Moves evaluated so far.
    pub evaluated: u64,
}

impl Replacer for MoveBudgetPlacer {
    fn replace(&mut self, req: &Request<'_>) -> Result<Assignment> {
        let opts = PlaceOptions {
            budget: Budget::Moves(self.moves),
            seed: derive_seed(self.seed, self.run, 3 + req.number),
            constraints: Default::default(),
        };
        let out = placer::replace(req.inst, req.load, req.window, req.current, &opts);
        self.evaluated += out.moves_evaluated;
        Ok(out.assignment)
    }
}

/// Keeps what the engine reports.
#[derive(Debug, Default)]
struct Collect {
    windows: Vec<WindowRecord>,
    tau: Vec<TauPoint>,
}

impl Output for Collect {
    fn checkpoint(&mut self, _progress: &Position) -> Result<()> {
        Ok(())
    }
    fn window(&mut self, record: &WindowRecord) -> Result<()> {
        self.windows.push(record.clone());
        Ok(())
    }
    fn summary(&mut self, _summary: &Summary) -> Result<()> {
        Ok(())
    }
    fn sample(&mut self, point: &TauPoint) -> Result<()> {
        self.tau.push(*point);
        Ok(())
    }
}

/// Run the scenario once: draw the sinks, place for the first, then run the
/// engine over the epochs.
pub fn run(inst: &Instance, s: &Settings, run: usize, seed: u64) -> Result<RunResult> {
    let (sinks, loads) = epoch_loads(inst, s, run, seed);
    let opts = PlaceOptions {
        budget: Budget::Moves(s.initial_moves),
        seed: derive_seed(seed, run, 2),
        constraints: Default::default(),
    };
    let first = placer::initial(inst, &loads[0], &opts);
    let mut optimiser = MoveBudgetPlacer {
        moves: s.moves,
        seed,
        run,
        evaluated: first.moves_evaluated,
    };
    let mut result = account(inst, s, &loads, first.assignment, &mut optimiser)?;
    result.run = run;
    result.moves_evaluated = optimiser.evaluated;
    result.sinks = sinks.iter().map(|&k| inst.vnode_ids[k as usize].clone()).collect();
    for w in &mut result.windows {
        w.run = run;
        w.sink = result.sinks[w.epoch].clone();
    }
    Ok(result)
}

/// The engine over `loads` (epoch k's actual load) from the initial
/// placement `phi0` (optimised for epoch 0), with the optimiser passed in,
/// so that tests can drive it with a fixed answer.
pub fn account(
    inst: &Instance,
    s: &Settings,
    loads: &[Load],
    phi0: Assignment,
    optimiser: &mut dyn Replacer,
) -> Result<RunResult> {
    let settings = Settings {
        epochs: loads.len(),
        ..s.clone()
    };
    let s = &settings;
    let mut source = ScenarioSource::new(s, loads);
    let mut clock = FakeClock::starting_at(0.0);
    let mut predictor = LastValue::default();
    let stop = AtomicBool::new(false);
    let mut out = Collect::default();
    let summary = Balancer {
        inst: std::borrow::Cow::Borrowed(inst),
        config: Config {
            window: s.window,
            limits: Limits::default(),
            max_windows: None,
            duration_s: None,
            interval_s: s.window.tp,
            skip_unchanged: true,
        },
        source: &mut source,
        predictor: &mut predictor,
        clock: &mut clock,
        replacer: optimiser,
        actuator: &mut WhatIf,
        stop: &stop,
    }
    .run_from(
        Position {
            window: 0,
            t: None,
            current: phi0.clone(),
            baseline: phi0,
        },
        loads.first().cloned(),
        &mut out,
    )?;
    let windows = out
        .windows
        .into_iter()
        .map(|record| ScenarioWindow {
            run: 0,
            epoch: s.epoch_at(record.t + 1e-9),
            predicted_epoch: s.epoch_at((record.t - s.detect_s).max(0.0) + 1e-9),
            sink: String::new(),
            record,
        })
        .collect();
    Ok(RunResult {
        run: 0,
        sinks: Vec::new(),
        windows,
        tau: out.tau,
        summary,
        moves_evaluated: 0,
    })
}

/// True if the window asked the optimiser (its prediction was new and it
/// was long enough).
pub fn optimised(w: &WindowRecord) -> bool {
    !matches!(w.reason, Reason::PredictionUnchanged | Reason::WindowTooShort)
}
