//! The state dir (SPEC §7, default `./.netbalance/`): the placement in force,
//! the migration journal and the lock that keeps a second `migrate` or
//! `balance` away.
//!
//! Files, all written atomically (temp file, fsync, rename) or, for the
//! journal, appended with an fsync per record:
//!
//! - `placement.json` — the placement in force, in an envelope with a
//!   checksum, so that a torn or hand-edited file is detected and named
//!   rather than trusted;
//! - `journal.ndjson` — every step of the current (or last) run
//!   ([`journal`]); the run before it is kept as `journal.prev.ndjson`;
//! - `lock` — the pid of the process working on the dir ([`lock`]).

pub mod journal;
pub mod lock;

pub use journal::{Journal, Record, RunKind, RunLog, Step};
pub use lock::{Owner, StateLock};

use crate::error::{Error, Location, Result};
use crate::model::Placement;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The format tag of `placement.json`.
pub const STATE_FORMAT: &str = "netbalance-state/1";

/// A state directory (created on open if missing).
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

/// `placement.json`: the placement in force and a checksum over it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    /// `fnv1a64:<16 hex digits>` of the compact JSON of `placement`.
    checksum: String,
    placement: Placement,
}

impl StateDir {
    /// Open (and create, if missing) the state dir at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<StateDir> {
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(StateDir { path })
    }

    /// The state dir at `path`, without creating anything (for reading:
    /// `--dry-run` touches nothing).
    pub fn at(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The file holding the placement in force.
    pub fn placement_path(&self) -> PathBuf {
        self.path.join("placement.json")
    }
    pub fn journal_path(&self) -> PathBuf {
        self.path.join("journal.ndjson")
    }

    /// Take the lock ("locked by pid N" if a live process holds it).
    pub fn lock(&self) -> Result<StateLock> {
        StateLock::acquire(&self.path, self.path.join("lock"))
    }

    /// The placement in force, `None` if nothing is deployed. A torn,
    /// hand-edited or foreign file is an input error naming it.
    pub fn placement(&self) -> Result<Option<Placement>> {
        let path = self.placement_path();
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(name, e)),
        };
        let untrusted = |what: String| {
            Error::input(
                Location::file(&name),
                format!("{what}; the file is not trusted (pass the placement in force with --placement FILE, or tear down with --teardown --placement FILE)"),
            )
        };
        let envelope: Envelope = crate::io::parse_json(&text, &name)
            .map_err(|e| untrusted(format!("torn or not a netbalance state file ({e})")))?;
        if envelope.format != STATE_FORMAT {
            return Err(untrusted(format!("unknown format {:?} (expected {STATE_FORMAT:?})", envelope.format)));
        }
        let expected = checksum_of(&envelope.placement);
        if envelope.checksum != expected {
            return Err(untrusted(format!(
                "checksum mismatch (recorded {}, content {expected}): edited by hand or torn",
                envelope.checksum
            )));
        }
        Ok(Some(envelope.placement))
    }

    /// Record `placement` as the one in force (atomically). Its `tau`/`chi`
    /// metadata are dropped: they describe a proposal, not the testbed.
    pub fn set_placement(&self, placement: &Placement) -> Result<()> {
        let placement = Placement { tau: None, chi: None, ..placement.clone() };
        let envelope = Envelope { format: STATE_FORMAT.into(), checksum: checksum_of(&placement), placement };
        let mut bytes = serde_json::to_vec_pretty(&envelope).map_err(|e| Error::io(self.placement_path().display().to_string(), e.into()))?;
        bytes.push(b'\n');
        crate::io::write_atomic(&self.placement_path(), &bytes)
    }

    /// Nothing is in force any more (after a teardown).
    pub fn clear_placement(&self) -> Result<()> {
        match std::fs::remove_file(self.placement_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(self.placement_path().display().to_string(), e)),
        }
    }

    /// Open the journal (a torn last record is reported and cut off).
    pub fn journal(&self) -> Result<Journal> {
        Journal::open(self.journal_path())
    }
}

/// The checksum recorded for a placement: FNV-1a 64 of its compact JSON. It
/// detects torn and hand-edited files, not tampering.
fn checksum_of(placement: &Placement) -> String {
    let json = serde_json::to_string(placement).expect("a placement serialises");
    format!("fnv1a64:{:016x}", fnv1a64(json.as_bytes()))
}

/// FNV-1a, 64 bit.
///
/// ```
/// assert_eq!(netbalance::state::fnv1a64(b""), 0xcbf29ce484222325);
/// assert_eq!(netbalance::state::fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement() -> Placement {
        let mut p = Placement::default();
        p.vm_of.insert("n0".into(), "h0-v0".into());
        p.vm_of.insert("n1".into(), "h0-v1".into());
        p.topology = Some("waxman.json".into());
        p.tau = Some(0.5);
        p
    }

    #[test]
    fn placement_round_trips_without_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("s")).unwrap();
        assert_eq!(state.placement().unwrap(), None);
        state.set_placement(&placement()).unwrap();
        let back = state.placement().unwrap().unwrap();
        assert_eq!(back, Placement { tau: None, ..placement() });
        state.clear_placement().unwrap();
        assert_eq!(state.placement().unwrap(), None);
    }

    #[test]
    fn hand_edited_state_is_named_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        state.set_placement(&placement()).unwrap();
        let path = state.placement_path();
        let text = std::fs::read_to_string(&path).unwrap().replace("h0-v1", "h0-v2");
        std::fs::write(&path, text).unwrap();
        let err = state.placement().unwrap_err().to_string();
        assert!(err.contains("placement.json") && err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn torn_state_is_named_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        state.set_placement(&placement()).unwrap();
        let path = state.placement_path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let err = state.placement().unwrap_err().to_string();
        assert!(err.contains("placement.json") && err.contains("torn"), "{err}");
    }
}
