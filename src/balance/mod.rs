//! `netbalance balance`: the closed loop. Every prediction window:
//! take the latest load (the prediction: last value) → ask the optimiser for
//! a candidate within T_o → compute T_r and χ with [`crate::cost`] → migrate
//! only if χ < 0, the gain reaches `--min-gain` and at most `--max-moves`
//! vnodes move → checkpoint the state file → wait for the window to pass →
//! account it at the load measured.
//!
//! The loop ([`engine::Balancer`]) is a state machine over traits, so that it
//! runs the same against a recorded stream and a live testbed, and in tests:
//! [`LoadSource`] (a [`ReplaySource`], or the live monitor), [`Predictor`]
//! ([`LastValue`], or a [`Forecast`] of `--predictor`), [`Clock`]
//! ([`FakeClock`] jumps, [`RealClock`] waits), [`Replacer`] (the placer) and
//! [`Actuator`] ([`WhatIf`] touches nothing; live, the migrate engine).
//!
//! # The decision log (NDJSON on stdout)
//!
//! One line per window, then one summary line; every number is a JSON number.
//!
//! ```text
//! {"type":"window","window":3,"t":30.0,
//!  "tau_now":4.1,"tau_candidate":2.3,"tau_after":2.3,   τ under the predicted load:
//!                                                      in force, candidate, in force after
//!  "t_r":0.6,"t_r_measured":0.7,                        estimated (model §3); measured if live
//!  "chi":-15.6,"gain":0.42,                             χ (model §4), absent when the optimiser
//!                                                      was not asked; −χ / ((T_p − T_o)·τ_now)
//!  "moves":3,"trimmed":false,                           candidate moves (after --max-moves)
//!  "decision":"changed"|"kept",
//!  "reason":"beneficial"|"no_candidate"|"chi_not_negative"|"below_min_gain"|"stopping"
//!          |"window_too_short"|"prediction_unchanged",   (the last: simulate only)
//!  "moved":[{"vnode":"n4","from":"h0-v1","to":"h1-v0"}],
//!  "tau_actual":2.5,"tau_baseline":4.1,                 time-averaged τ at the measured load,
//!                                                      with the loop / with the baseline placement
//!  "real_s":25.6,"baseline_s":41.0,"length_s":10.0}     real seconds of the window (∫τ + pause)
//! {"type":"summary","windows":12,"next_window":12,"changes":3,"moves":9,
//!  "real_s":301.2,"baseline_s":480.5,"relative_runtime":0.627,"t_r_total":1.8,
//!  "stopped_by":"end_of_stream"|"windows"|"duration"|"signal"}
//! ```
//!
//! `t_r_measured` is absent when nothing was measured (what-if). The
//! baseline is the placement in force when the first run on this state dir
//! started. Decode with [`LogLine`]. A window shorter than T_o (at the end
//! of a stream) does not ask the optimiser (`window_too_short`).
//!
//! `simulate` runs this same engine over its scenario (see
//! [`crate::simulate::drive`]); its window records are these, with the run,
//! epoch and sink added.

pub mod actuator;
pub mod clock;
pub mod decide;
pub mod engine;
pub mod live;
pub mod predictor;
pub mod record;
pub mod replacer;
pub mod report;
pub mod signal;
pub mod source;
pub mod state;

pub use actuator::Applied;
pub use actuator::{Actuator, WhatIf};
pub use clock::{Clock, FakeClock, RealClock};
pub use decide::{decide, Limits, Verdict};
pub use engine::{Balancer, Config, Output, Position, TauPoint};
pub use live::{MigrateActuator, MonitorSource, StreamSource};
pub use predictor::{Forecast, LastValue, Predictor};
pub use record::{Decision, LogLine, MovedVnode, Reason, StopCause, Summary, WindowRecord};
pub use replacer::{Placer, Replacer, Request};
pub use source::{LoadSource, ReplaySource, Sample};
pub use state::{BalanceState, RunMode, RunOf, SavedState};

#[cfg(test)]
mod tests;
