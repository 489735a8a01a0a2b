//! How a vnode migrates (model §3.1): stop-and-copy (the paper's), post-copy
//! (lazy pages) or pre-copy (rounds while running), and the constants each
//! mode adds to the costs profile.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The migration mode: what the experiment pauses for while a vnode moves.
///
/// ```
/// use netbalance::model::MigrationMode;
/// let m: MigrationMode = serde_json::from_str("\"post-copy\"").unwrap();
/// assert_eq!(m, MigrationMode::PostCopy);
/// assert_eq!(m.to_string(), "post-copy");
/// assert_eq!(MigrationMode::default(), MigrationMode::StopCopy);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationMode {
    /// Pause, dump the whole memory, copy it, restore (the paper's; T_r grows with memory)
    #[default]
    StopCopy,
    /// Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily
    PostCopy,
    /// Copy memory in rounds while the vnode runs; pause for the last dirty pages
    PreCopy,
}

impl MigrationMode {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationMode::StopCopy => "stop-copy",
            MigrationMode::PostCopy => "post-copy",
            MigrationMode::PreCopy => "pre-copy",
        }
    }

    pub fn is_stop_copy(&self) -> bool {
        *self == MigrationMode::StopCopy
    }
}

impl fmt::Display for MigrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Post-copy constants (model §3.1). The defaults are estimates from this
/// project's measurements of one process on one machine (a post-copy pause of
/// ~100–150 ms whatever the memory; see the issue on post-copy), not a
/// calibration: `calibrate` is to replace them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostCopyCosts {
    /// Dumping a vnode's state without its memory pages, per moved vnode (ms).
    pub state_dump_ms: f64,
    /// Restoring that state on the destination, per moved vnode (ms).
    pub state_restore_ms: f64,
    /// The fraction, in [0, 1], of the lazy page transfer's time (memory ×
    /// transfer rate) that the experiment loses to page faults after resume.
    pub fault_fraction: f64,
}

impl Default for PostCopyCosts {
    fn default() -> Self {
        PostCopyCosts {
            state_dump_ms: 40.0,
            state_restore_ms: 70.0,
            fault_fraction: 0.1,
        }
    }
}

/// Pre-copy constants (model §3.1); the defaults are estimates, not a calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreCopyCosts {
    /// Dirty rate of a vnode that does not state its own `dirty_mb_s` (MB/s).
    pub dirty_mb_s: f64,
    /// At most this many copy rounds while the vnode runs (0: pause for all memory).
    pub max_rounds: u32,
    /// Stop the rounds once the dirty set is at most this large (MB).
    pub stop_mb: f64,
    /// The fraction, in [0, 1], of the rounds' time the experiment loses to
    /// the copying that runs beside it.
    pub round_fraction: f64,
}

impl Default for PreCopyCosts {
    fn default() -> Self {
        PreCopyCosts {
            dirty_mb_s: 1.0,
            max_rounds: 5,
            stop_mb: 1.0,
            round_fraction: 0.05,
        }
    }
}

/// The most pre-copy rounds a profile may ask for.
pub const MAX_PRE_COPY_ROUNDS: u32 = 100;
