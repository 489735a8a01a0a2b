//! The loop's state file, `<state-dir>/balance.json`: the next window's
//! number and start, the placement in force and the baseline, written
//! atomically after every decision so that a restarted `balance` continues
//! where it stopped.
//!
//! Live, the placement in force is the state dir's `placement.json`
//! ([`crate::state::StateDir`], written by the migrate engine) and wins over
//! the copy kept here; a what-if run (`--replay`) never touches it, its
//! placement lives only here. The two kinds of run do not continue each
//! other ([`RunMode`]).

use super::engine::Position;
use crate::error::{Error, Location, Result};
use crate::model::Placement;
use crate::problem::Problem;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedState {
    /// The kind of run that wrote the file.
    pub mode: RunMode,
    /// The number of the next window.
    pub window: u64,
    /// The start of the next window on the run's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// The placement in force (records its topology and testbed files).
    pub placement: Placement,
    /// The placement in force when the first run started.
    pub baseline: Placement,
}

/// What-if (`--replay`) or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Replay,
    Live,
}

/// The state file of one state dir.
#[derive(Debug, Clone)]
pub struct BalanceState {
    path: PathBuf,
}

impl BalanceState {
    pub fn new(state_dir: &Path) -> Self {
        BalanceState {
            path: state_dir.join("balance.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The saved state; `None` if there is no file.
    pub fn read(&self) -> Result<Option<SavedState>> {
        if !self.path.exists() {
            return Ok(None);
        }
        let saved: SavedState = crate::io::read_json(&crate::io::Source::File(self.path.clone()))?;
        if saved.t.is_some_and(|t| !t.is_finite()) {
            return Err(Error::input(
                Location::file(self.name()).at_path("t"),
                "t must be a finite number",
            ));
        }
        Ok(Some(saved))
    }

    /// The progress of a saved state, checked against the problem.
    pub fn progress(&self, saved: &SavedState, problem: &Problem) -> Result<Position> {
        let name = self.name();
        let current = problem
            .assignment(&saved.placement, &name)
            .map_err(|e| nest(e, "placement"))?;
        let baseline = problem
            .assignment(&saved.baseline, &name)
            .map_err(|e| nest(e, "baseline"))?;
        Ok(Position {
            window: saved.window,
            t: saved.t,
            current,
            baseline,
        })
    }

    /// Write the progress atomically (creating the state dir).
    pub fn save(&self, mode: RunMode, problem: &Problem, progress: &Position) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        let saved = SavedState {
            mode,
            window: progress.window,
            t: progress.t,
            placement: problem.placement_of(&progress.current),
            baseline: problem.placement_of(&progress.baseline),
        };
        let mut bytes = serde_json::to_vec_pretty(&saved).map_err(|e| Error::io(self.name(), e.into()))?;
        bytes.push(b'\n');
        crate::io::write_atomic(&self.path, &bytes)
    }
}

/// Prefix the JSON path of an error about one of the file's placements.
fn nest(err: Error, field: &str) -> Error {
    match err {
        Error::Input { mut location, message } => {
            location.path = Some(match location.path {
                Some(p) => format!("{field}.{p}"),
                None => field.to_string(),
            });
            Error::Input { location, message }
        }
        other => other,
    }
}
