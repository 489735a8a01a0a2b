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
use crate::state::SecureDir;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's name in the state dir.
const FILE: &str = "balance.json";

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
    /// What the run belongs to (its inputs); a run on other inputs does
    /// not continue it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunOf>,
    /// True once a what-if run has replayed its whole stream.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished: bool,
}

/// The inputs a run belongs to: the replayed stream (name and checksum of
/// its bytes), the topology and the testbed files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sum: Option<String>,
    pub topology: String,
    pub testbed: String,
}

impl RunOf {
    /// The inputs of `problem`, replaying `stream` (its name and bytes) if given.
    pub fn new(problem: &Problem, stream: Option<(&str, &[u8])>) -> RunOf {
        RunOf {
            stream: stream.map(|(name, _)| name.to_string()),
            stream_sum: stream.map(|(_, bytes)| format!("fnv1a64:{:016x}", crate::state::fnv1a64(bytes))),
            topology: problem.topology_path.display().to_string(),
            testbed: problem.testbed_path.display().to_string(),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(name), Some(sum)) = (&self.stream, &self.stream_sum) {
            parts.push(format!("stream {name:?} ({sum})"));
        }
        parts.push(format!("topology {:?}", self.topology));
        parts.push(format!("testbed {:?}", self.testbed));
        parts.join(", ")
    }
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
            path: state_dir.join(FILE),
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
        let Some(dir) = self.dir(false)? else {
            return Ok(None);
        };
        let Some(bytes) = dir.read(FILE)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::input(Location::file(self.name()), "not UTF-8 text (not a balance state)"))?;
        let saved: SavedState = crate::io::parse_json(&text, &self.name())?;
        if saved.t.is_some_and(|t| !t.is_finite()) {
            return Err(Error::input(
                Location::file(self.name()).at_path("t"),
                "t must be a finite number",
            ));
        }
        Ok(Some(saved))
    }

    /// Refuse to continue a saved run of other inputs, or a finished
    /// what-if run (exit 2, naming both runs; `--fresh` starts over).
    pub fn check_continues(&self, saved: &SavedState, run: &RunOf) -> Result<()> {
        match &saved.run {
            Some(recorded) if recorded != run => Err(Error::usage(format!(
                "{:?} holds a run of {}; this run is of {}: it does not continue it (give another --state-dir, or --fresh to start over)",
                self.path,
                recorded.describe(),
                run.describe()
            ))),
            None => Err(Error::usage(format!(
                "{:?} does not record which inputs its run belongs to (written by an older netbalance): pass --fresh to start over",
                self.path
            ))),
            Some(_) if saved.finished => Err(Error::usage(format!(
                "{:?}: this run is finished (its whole stream was replayed, next window {}); pass --fresh to start over",
                self.path, saved.window
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Forget the saved run (`--fresh`).
    pub fn remove(&self) -> Result<()> {
        match self.dir(false)? {
            Some(dir) => dir.remove(FILE),
            None => Ok(()),
        }
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
    pub fn save(
        &self,
        mode: RunMode,
        problem: &Problem,
        progress: &Position,
        run: &RunOf,
        finished: bool,
    ) -> Result<()> {
        let dir = self.dir(true)?.expect("created");
        let saved = SavedState {
            mode,
            window: progress.window,
            t: progress.t,
            placement: problem.placement_of(&progress.current),
            baseline: problem.placement_of(&progress.baseline),
            run: Some(run.clone()),
            finished,
        };
        let mut bytes = serde_json::to_vec_pretty(&saved).map_err(|e| Error::io(self.name(), e.into()))?;
        bytes.push(b'\n');
        dir.write_atomic(FILE, &bytes)
    }

    /// The checked state dir (created if `create`).
    fn dir(&self, create: bool) -> Result<Option<SecureDir>> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
        SecureDir::open(dir.unwrap_or(Path::new(".")), create)
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
