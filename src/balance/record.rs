//! The NDJSON decision log of `balance`: one [`WindowRecord`] per window,
//! then one [`Summary`]. The shapes are documented in the module docs of
//! [`crate::balance`] and tested by decoding in `tests/cli_balance.rs`.

use serde::{Deserialize, Serialize};

/// Whether the window changed the placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Changed,
    Kept,
}

/// Why a window kept or changed the placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// χ < 0 and the gain reached `--min-gain`: migrated.
    Beneficial,
    /// The optimiser found nothing better than the placement in force.
    NoCandidate,
    /// χ ≥ 0: the re-placement would not pay within the window.
    ChiNotNegative,
    /// χ < 0 but the gain was below `--min-gain`.
    BelowMinGain,
    /// A stop was requested (SIGINT/SIGTERM) before the migration started.
    Stopping,
    /// The prediction equals the one the placement in force was optimised
    /// for: not optimised again (only when the run skips unchanged predictions).
    PredictionUnchanged,
    /// The window ends before T_o has passed: the optimiser's answer would
    /// come too late, so it is not asked.
    WindowTooShort,
}

/// One move of a window, as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovedVnode {
    pub vnode: String,
    pub from: String,
    pub to: String,
}

/// `{"type":"window",...}`: what one prediction window decided and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowRecord {
    /// Window number, counted across restarts (from the state file).
    pub window: u64,
    /// Start of the window on the run's clock (s).
    pub t: f64,
    /// τ of the placement in force under the predicted load.
    pub tau_now: f64,
    /// τ of the optimiser's candidate under the predicted load.
    pub tau_candidate: f64,
    /// τ of the placement in force after the decision, predicted.
    pub tau_after: f64,
    /// Estimated T_r of the candidate (s; model §3).
    pub t_r: f64,
    /// Measured migration time when the actuator reports one (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_r_measured: Option<f64>,
    /// χ of the candidate (s; model §4); absent when the optimiser was not
    /// asked (reasons `prediction_unchanged`, `window_too_short`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi: Option<f64>,
    /// −χ / ((T_p − T_o)·τ_now): the fraction of the window's rest it saves.
    pub gain: f64,
    /// Moves of the candidate (after `--max-moves`).
    pub moves: usize,
    /// The candidate had more moves and was cut down to `--max-moves`.
    pub trimmed: bool,
    pub decision: Decision,
    pub reason: Reason,
    /// The moves applied (empty when kept).
    pub moved: Vec<MovedVnode>,
    /// Time-averaged τ over the window at the measured load, with the
    /// placements in force (old one for T_o, then the new one).
    pub tau_actual: f64,
    /// The same with the baseline placement (the one in force when the run
    /// started) kept all along.
    pub tau_baseline: f64,
    /// Real seconds the window took: ∫τ over the window plus the migration pause.
    pub real_s: f64,
    /// Real seconds with the baseline placement.
    pub baseline_s: f64,
    /// Length of the window on the run's clock (s; T_p unless the stream ended).
    pub length_s: f64,
}

/// `{"type":"summary",...}`: the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Windows run in this invocation.
    pub windows: u64,
    /// The window number the next run starts at.
    pub next_window: u64,
    /// Windows that migrated.
    pub changes: u64,
    /// vnode moves applied.
    pub moves: u64,
    /// Σ real_s over the windows.
    pub real_s: f64,
    /// Σ baseline_s over the windows.
    pub baseline_s: f64,
    /// real_s / baseline_s (1 when nothing ran).
    pub relative_runtime: f64,
    /// Σ of the migration pauses (s).
    pub t_r_total: f64,
    /// Why the run ended: `"end_of_stream"`, `"windows"`, `"duration"` or `"signal"`.
    pub stopped_by: StopCause,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    EndOfStream,
    Windows,
    Duration,
    Signal,
}

/// A line of the log: the tag `"type"` says which record it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogLine {
    Window(WindowRecord),
    Summary(Summary),
}
