//! The closed loop as a state machine over its four collaborators: a
//! [`LoadSource`], a [`Clock`], a [`Replacer`] and an [`Actuator`]. Each
//! window of T_p seconds (on the clock) it asks the [`Predictor`] for the
//! window's load (by default the last value, the paper's choice), asks for a
//! candidate, decides
//! ([`decide`]), applies, checkpoints, waits for the window to pass and then
//! accounts the window at the load actually measured.
//!
//! A window ends after T_p, at the end of the stream, or at a trigger the
//! source announces (a significant load change, [`LoadSource::next_trigger`]).
//! A window shorter than T_o does not ask the optimiser (its answer would
//! come too late). With [`Config::skip_unchanged`], a window whose
//! prediction equals the one the placement in force was optimised for does
//! not ask it either (the simulator's runs; the live loop asks every window).
//!
//! Accounting (model §6, the paper's reading): during the first T_o of a window
//! the experiment runs on the old placement, then pauses for the migration
//! (the measured pause, else the estimated T_r), then runs on the new one,
//! at the actual load: the source's, if it knows it
//! ([`LoadSource::actual`], a scenario), else the samples', the load between
//! samples being the last sample's. The baseline is the placement in force
//! when the run started, kept all along.
//!
//! This one engine serves `balance` (replay or live) and `simulate` (a
//! scenario source, a fake clock, a move-budget placer, the what-if
//! actuator; see [`crate::simulate::drive`]).
//!
//! Complexity per window: one optimiser call, O(V + E) for the decision,
//! O(s·(V + E)) for the accounting of s samples.

use super::actuator::Actuator;
use super::clock::Clock;
use super::decide::{decide, Limits, Verdict};
use super::predictor::Predictor;
use super::record::{Decision, MovedVnode, Reason, StopCause, Summary, WindowRecord};
use super::replacer::{Replacer, Request};
use super::source::LoadSource;
use crate::cost::{self, Assignment, Instance, Load, Window};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// The settings of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub window: Window,
    pub limits: Limits,
    /// Stop after this many windows.
    pub max_windows: Option<u64>,
    /// Stop after this many seconds on the clock.
    pub duration_s: Option<f64>,
    /// How often to look for new samples while a window passes, and how
    /// long to wait for a first sample before looking again (s).
    pub interval_s: f64,
    /// Do not ask the optimiser when the prediction equals the one the
    /// placement in force was last optimised for.
    pub skip_unchanged: bool,
}

/// Where a run stands: what a restarted run continues from.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// The number of the next window.
    pub window: u64,
    /// The start of the next window on the clock; `None` before the first.
    pub t: Option<f64>,
    /// The placement in force.
    pub current: Assignment,
    /// The placement in force when the first run started (the baseline).
    pub baseline: Assignment,
}

/// τ at one instant, with the placement in force and with the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TauPoint {
    pub t: f64,
    pub tau: f64,
    pub tau_baseline: f64,
}

/// Where the loop reports: the decision log, checkpoints, τ samples.
pub trait Output {
    /// Persist the progress (called after every decision, before waiting).
    fn checkpoint(&mut self, progress: &Position) -> Result<()>;
    fn window(&mut self, record: &WindowRecord) -> Result<()>;
    fn summary(&mut self, summary: &Summary) -> Result<()>;
    /// τ from `point.t` on (until the next point), for plots.
    fn sample(&mut self, _point: &TauPoint) -> Result<()> {
        Ok(())
    }
}

/// The loop and its collaborators.
pub struct Balancer<'a> {
    /// The model; a live run refines it as moves measure their vnodes
    /// (pre-copy's dirty rate: [`super::actuator::Applied::dirty_mb_s`]).
    pub inst: Cow<'a, Instance>,
    pub config: Config,
    pub source: &'a mut dyn LoadSource,
    /// The load prediction ([`super::predictor::LastValue`] by default).
    pub predictor: &'a mut dyn Predictor,
    pub clock: &'a mut dyn Clock,
    pub replacer: &'a mut dyn Replacer,
    pub actuator: &'a mut dyn Actuator,
    /// Set by SIGINT/SIGTERM: finish the migration in flight, then stop.
    pub stop: &'a AtomicBool,
}

/// Where a dirty rate the loop learns comes from.
#[derive(Debug, Clone, Copy)]
enum Learned {
    Move,
    Monitor,
}

/// Running totals of a run.
#[derive(Debug, Default)]
struct Totals {
    windows: u64,
    changes: u64,
    moves: u64,
    real_s: f64,
    baseline_s: f64,
    t_r_total: f64,
}

impl Balancer<'_> {
    /// Run windows from `progress` until the stream ends, a bound is reached
    /// or a stop is requested. Returns the summary (also sent to `out`).
    pub fn run(&mut self, progress: Position, out: &mut dyn Output) -> Result<Summary> {
        self.run_from(progress, None, out)
    }

    /// [`Balancer::run`] with the load the placement in force was optimised
    /// for (with [`Config::skip_unchanged`], windows predicting it are not
    /// optimised again).
    pub fn run_from(
        &mut self,
        mut progress: Position,
        optimised_for: Option<Load>,
        out: &mut dyn Output,
    ) -> Result<Summary> {
        let Config {
            max_windows,
            duration_s,
            interval_s,
            ..
        } = self.config;
        let t_start = progress
            .t
            .or_else(|| self.source.start())
            .unwrap_or_else(|| self.clock.now());
        let deadline = duration_s.map(|d| t_start + d);
        let mut t = t_start;
        let mut latest: Option<Load> = None;
        let mut optimised_for = optimised_for;
        let mut totals = Totals::default();
        let stopped_by = loop {
            let end = [self.source.end(), deadline].into_iter().flatten().reduce(f64::min);
            if self.stop.load(Ordering::SeqCst) {
                break StopCause::Signal;
            }
            if max_windows.is_some_and(|n| totals.windows >= n) {
                break StopCause::Windows;
            }
            if deadline.is_some_and(|d| t >= d) {
                break StopCause::Duration;
            }
            if self.source.end().is_some_and(|e| t >= e) {
                break StopCause::EndOfStream;
            }
            for s in self.source.poll(t)? {
                self.predictor.observe(&s);
                latest = Some(s.load);
            }
            let (Some(predicted), Some(in_force)) = (self.predictor.predict(), latest.clone()) else {
                // Nothing measured yet: wait for the first sample.
                let next = self.source.start().filter(|&s| s > t).unwrap_or(t + interval_s);
                t = self.clock.wait_until(next, self.stop);
                continue;
            };
            let end = [end, self.source.next_trigger(t)]
                .into_iter()
                .flatten()
                .reduce(f64::min);
            let (record, reached) = self.window(
                &mut progress,
                t,
                end,
                predicted,
                in_force,
                &mut latest,
                &mut optimised_for,
                &mut totals,
                out,
            )?;
            t = reached;
            out.window(&record)?;
        };
        let summary = Summary {
            windows: totals.windows,
            next_window: progress.window,
            changes: totals.changes,
            moves: totals.moves,
            real_s: totals.real_s,
            baseline_s: totals.baseline_s,
            relative_runtime: if totals.baseline_s > 0.0 {
                totals.real_s / totals.baseline_s
            } else {
                1.0
            },
            t_r_total: totals.t_r_total,
            stopped_by,
        };
        out.summary(&summary)?;
        Ok(summary)
    }

    /// One window starting at `t`: decide, apply, checkpoint, wait, account.
    /// `in_force` is the last sample, the load from `t` on; leaves the last
    /// sample seen in `latest`. Returns the record and where the clock is.
    #[allow(clippy::too_many_arguments)]
    fn window(
        &mut self,
        progress: &mut Position,
        t: f64,
        end: Option<f64>,
        predicted: Load,
        in_force: Load,
        latest: &mut Option<Load>,
        optimised_for: &mut Option<Load>,
        totals: &mut Totals,
        out: &mut dyn Output,
    ) -> Result<(WindowRecord, f64)> {
        let inst: &Instance = &self.inst;
        let Config { window, limits, .. } = self.config;
        let w_end = end.map_or(t + window.tp, |e| e.min(t + window.tp));
        let unchanged = self.config.skip_unchanged && optimised_for.as_ref() == Some(&predicted);
        let too_short = w_end - t < window.to - 1e-9;
        let verdict = if unchanged || too_short {
            let tau_now = cost::tau(inst, &predicted, &progress.current);
            Verdict {
                candidate: progress.current.clone(),
                tau_now,
                tau_candidate: tau_now,
                t_r: 0.0,
                chi: f64::NAN,
                gain: 0.0,
                moves: 0,
                trimmed: false,
                change: false,
                reason: if unchanged {
                    Reason::PredictionUnchanged
                } else {
                    Reason::WindowTooShort
                },
            }
        } else {
            let request = Request {
                inst,
                load: &predicted,
                current: &progress.current,
                window,
                max_moves: limits.max_moves,
                number: progress.window,
            };
            let candidate = self.replacer.replace(&request)?;
            check_assignment(inst, &candidate)?;
            let verdict = decide(inst, &predicted, window, &progress.current, candidate, limits);
            *optimised_for = Some(predicted);
            verdict
        };
        let asked = !(unchanged || too_short);
        let (mut change, mut reason) = (verdict.change, verdict.reason);
        if change && self.stop.load(Ordering::SeqCst) {
            (change, reason) = (false, Reason::Stopping);
        }
        let old = progress.current.clone();
        let mut t_r_measured = None;
        let mut pause = 0.0;
        let mut learned = Vec::new();
        let mut measured = Vec::new();
        if change {
            let applied = match self.actuator.apply(inst, &old, &verdict.candidate) {
                Ok(applied) => applied,
                Err(err) => {
                    progress.t = Some(t);
                    out.checkpoint(progress)?;
                    return Err(err);
                }
            };
            check_assignment(inst, &applied.reached)?;
            progress.current = applied.reached;
            if let Some(err) = applied.failure {
                progress.t = Some(t);
                out.checkpoint(progress)?;
                return Err(err);
            }
            t_r_measured = applied.pause_s;
            pause = applied.pause_s.unwrap_or(verdict.t_r);
            learned = applied.dirty_mb_s;
        }
        let number = progress.window;
        progress.window += 1;
        progress.t = Some(w_end);
        out.checkpoint(progress)?;

        // Wait for the window's end, collecting samples every interval.
        let mut steps: Vec<(f64, Load)> = vec![(t, in_force)];
        let mut reached = t;
        loop {
            let step = reached + self.config.interval_s;
            let next = if step > reached { step.min(w_end) } else { w_end };
            reached = self.clock.wait_until(next, self.stop);
            for s in self.source.poll(reached)? {
                measured.extend(s.dirty_mb_s.iter().copied());
                self.predictor.observe(&s);
                steps.push((s.t, s.load));
            }
            if reached >= w_end || reached < next {
                break;
            }
        }
        if reached < w_end {
            progress.t = Some(reached);
            out.checkpoint(progress)?;
        }
        if steps.len() > 1 {
            *latest = steps.last().map(|s| s.1.clone());
        }
        let switch = if change { t + window.to } else { f64::INFINITY };
        let (mut area, mut area_base) = (0.0, 0.0);
        let pieces: Vec<(f64, &Load)> = match self.source.actual(t, reached) {
            Some(actual) => actual,
            None => steps.iter().map(|(from, load)| (*from, load)).collect(),
        };
        for (i, &(from, load)) in pieces.iter().enumerate() {
            let to = pieces.get(i + 1).map_or(reached, |s| s.0).min(reached);
            let parts = [(from, switch.min(to), &old), (switch.max(from), to, &progress.current)];
            for (a, b, placement) in parts {
                if b > a {
                    let tau = cost::tau(inst, load, placement);
                    let tau_baseline = cost::tau(inst, load, &progress.baseline);
                    out.sample(&TauPoint {
                        t: a,
                        tau,
                        tau_baseline,
                    })?;
                    area += tau * (b - a);
                    area_base += tau_baseline * (b - a);
                }
            }
        }
        let length = reached - t;
        let (tau_actual, tau_baseline) = if length > 0.0 {
            (area / length, area_base / length)
        } else {
            (
                cost::tau(inst, pieces[0].1, &progress.current),
                cost::tau(inst, pieces[0].1, &progress.baseline),
            )
        };
        let moved: Vec<MovedVnode> = if change {
            (0..old.len())
                .filter(|&n| old[n] != progress.current[n])
                .map(|n| MovedVnode {
                    vnode: inst.vnode_ids[n].clone(),
                    from: inst.vm_names[old[n] as usize].clone(),
                    to: inst.vm_names[progress.current[n] as usize].clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        totals.windows += 1;
        totals.changes += u64::from(change);
        totals.moves += moved.len() as u64;
        totals.real_s += area + pause;
        totals.baseline_s += area_base;
        totals.t_r_total += pause;
        let record = WindowRecord {
            window: number,
            t,
            tau_now: verdict.tau_now,
            tau_candidate: verdict.tau_candidate,
            tau_after: if change { verdict.tau_candidate } else { verdict.tau_now },
            t_r: verdict.t_r,
            t_r_measured,
            chi: asked.then_some(verdict.chi),
            gain: verdict.gain,
            moves: verdict.moves,
            trimmed: verdict.trimmed,
            decision: if change { Decision::Changed } else { Decision::Kept },
            reason,
            moved,
            tau_actual,
            tau_baseline,
            real_s: area + pause,
            baseline_s: area_base,
            length_s: length,
        };
        self.learn(&learned, Learned::Move);
        self.learn(&measured, Learned::Monitor);
        Ok((record, reached))
    }

    /// Price later moves of each vnode with the dirty rate last measured
    /// of it (model §3.1: the topology's `dirty_mb_s`, for this run): by its
    /// own pre-copy move (said on stderr), or by the monitor (every sample:
    /// said with `-v` only).
    fn learn(&mut self, dirty_mb_s: &[(usize, f64)], how: Learned) {
        for &(n, d) in dirty_mb_s {
            if n >= self.inst.dirty_mb_s.len() || !d.is_finite() || d < 0.0 || self.inst.dirty_mb_s[n] == Some(d) {
                continue;
            }
            let inst = self.inst.to_mut();
            let id = &inst.vnode_ids[n];
            match how {
                Learned::Move => crate::info!(
                    "balance: {id} dirtied {d:.2} MB/s during its pre-copy rounds: its next move is priced with that"
                ),
                Learned::Monitor => crate::debug!("balance: {id} dirties {d:.2} MB/s (monitor)"),
            }
            inst.dirty_mb_s[n] = Some(d);
        }
    }
}

/// One VM index per vnode, each a VM of the testbed (from the optimiser or
/// the actuator).
fn check_assignment(inst: &Instance, a: &[u32]) -> Result<()> {
    if a.len() != inst.n_vnodes() || a.iter().any(|&v| v as usize >= inst.n_vms()) {
        return Err(Error::Host(format!(
            "invalid placement from the optimiser or actuator ({} entries for {} vnodes)",
            a.len(),
            inst.n_vnodes()
        )));
    }
    Ok(())
}
