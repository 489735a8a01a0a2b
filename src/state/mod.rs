//! The state dir (model §7, default `./.netbalance/`): the placement in force,
//! the migration journal and the lock that keeps a second `migrate` or
//! `balance` away.
//!
//! Files, all written atomically (temp file, fsync, rename) or, for the
//! journal, appended with an fsync per record:
//!
//! - `placement.json` — the placement in force, a plain placement (model §1)
//!   that any command reads with `--placement`;
//! - `placement.sum` — the checksums `placement.json` may have: a torn or
//!   hand-edited placement is detected and named rather than trusted. While
//!   a new placement is written it lists the old and the new one, so a crash
//!   at any point leaves a file that checks;
//! - `journal.ndjson` — every step of the current (or last) run
//!   ([`journal`]); the run before it is kept as `journal.prev.ndjson`;
//! - `lock` — the pid of the process working on the dir ([`lock`]).
//!
//! Every file operation goes through [`secure::SecureDir`]: a state dir (or a
//! file in it) that is a symlink, not owned by the user or writable by
//! others is refused, and nothing in it is followed elsewhere.

pub mod journal;
pub mod lock;
pub mod secure;

pub use journal::{Journal, Record, RunKind, RunLog, Step};
pub use lock::{Owner, StateLock};
pub use secure::SecureDir;

use crate::error::{Error, Location, Result};
use crate::model::Placement;
use std::path::{Path, PathBuf};

/// A state directory (created on open if missing).
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Open (and create, if missing) the state dir at `path`, refusing one
    /// that is a symlink, foreign-owned or writable by others.
    pub fn open(path: impl Into<PathBuf>) -> Result<StateDir> {
        let path = path.into();
        SecureDir::open(&path, true)?;
        Ok(StateDir { path })
    }

    /// The checked directory; `None` if it does not exist.
    pub fn secure(&self) -> Result<Option<SecureDir>> {
        SecureDir::open(&self.path, false)
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
    /// The checksums the placement file may have.
    pub fn sum_path(&self) -> PathBuf {
        self.path.join("placement.sum")
    }
    pub fn journal_path(&self) -> PathBuf {
        self.path.join("journal.ndjson")
    }

    /// Take the lock ("locked by pid N" if a live process holds it).
    pub fn lock(&self) -> Result<StateLock> {
        let dir = SecureDir::open(&self.path, true)?.expect("created");
        StateLock::acquire(dir, "lock")
    }

    /// The placement in force, `None` if nothing is deployed. A torn,
    /// hand-edited or foreign file is an input error naming it.
    pub fn placement(&self) -> Result<Option<Placement>> {
        let path = self.placement_path();
        let name = path.display().to_string();
        let Some(dir) = self.secure()? else {
            return Ok(None);
        };
        let Some(bytes) = dir.read("placement.json")? else {
            return Ok(None);
        };
        let untrusted = |what: String| {
            Error::input(
                Location::file(&name),
                format!("{what}; the file is not trusted (pass the placement in force with --placement FILE, or tear down with --teardown --placement FILE)"),
            )
        };
        let text = String::from_utf8_lossy(&bytes);
        let placement: Placement =
            crate::io::parse_json(&text, &name).map_err(|e| untrusted(format!("torn or not a placement ({e})")))?;
        let Some(sums) = dir.read("placement.sum")? else {
            return Err(untrusted(
                "no placement.sum beside it: not written by `netbalance migrate`".into(),
            ));
        };
        let sums = String::from_utf8_lossy(&sums);
        let sum = checksum(&bytes);
        if !sums.lines().any(|l| l.trim() == sum) {
            return Err(untrusted(format!(
                "checksum mismatch (content {sum}, placement.sum has {}): edited by hand or torn",
                sums.trim().replace('\n', ", ")
            )));
        }
        Ok(Some(placement))
    }

    /// Record `placement` as the one in force (atomically; see the module
    /// doc for the order). Its `tau`/`chi` metadata are dropped: they
    /// describe a proposal, not the testbed.
    pub fn set_placement(&self, placement: &Placement) -> Result<()> {
        let placement = Placement {
            tau: None,
            chi: None,
            ..placement.clone()
        };
        let io_err = |e: serde_json::Error| Error::io(self.placement_path().display().to_string(), e.into());
        let mut bytes = serde_json::to_vec_pretty(&placement).map_err(io_err)?;
        bytes.push(b'\n');
        let new = checksum(&bytes);
        let dir = SecureDir::open(&self.path, true)?.expect("created");
        let old = dir.read("placement.json")?.map(|b| checksum(&b));
        let both = match old {
            Some(old) if old != new => format!("{new}\n{old}\n"),
            _ => format!("{new}\n"),
        };
        dir.write_atomic("placement.sum", both.as_bytes())?;
        dir.write_atomic("placement.json", &bytes)?;
        dir.write_atomic("placement.sum", format!("{new}\n").as_bytes())
    }

    /// Nothing is in force any more (after a teardown).
    pub fn clear_placement(&self) -> Result<()> {
        let Some(dir) = self.secure()? else {
            return Ok(());
        };
        dir.remove("placement.json")?;
        dir.remove("placement.sum")
    }

    /// Open the journal (a torn last record is reported and cut off).
    pub fn journal(&self) -> Result<Journal> {
        Journal::open(self.journal_path())
    }
}

/// The checksum of a placement file's bytes: FNV-1a 64. It detects torn and
/// hand-edited files, not tampering.
fn checksum(bytes: &[u8]) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(bytes))
}

/// FNV-1a, 64 bit.
///
/// ```
/// assert_eq!(netbalance::state::fnv1a64(b""), 0xcbf29ce484222325);
/// assert_eq!(netbalance::state::fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
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
        assert_eq!(
            back,
            Placement {
                tau: None,
                ..placement()
            }
        );
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
        assert!(
            err.contains("placement.json") && err.contains("checksum mismatch"),
            "{err}"
        );
    }

    #[test]
    fn a_crash_between_the_writes_leaves_a_file_that_checks() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        state.set_placement(&placement()).unwrap();
        let old = std::fs::read(state.placement_path()).unwrap();
        let mut next = placement();
        next.vm_of.insert("n1".into(), "h1-v0".into());
        state.set_placement(&next).unwrap();
        let new = std::fs::read(state.placement_path()).unwrap();
        // The sum file as it is between the first and the last write.
        std::fs::write(state.sum_path(), format!("{}\n{}\n", checksum(&new), checksum(&old))).unwrap();
        for bytes in [&old, &new] {
            std::fs::write(state.placement_path(), bytes).unwrap();
            assert!(state.placement().unwrap().is_some());
        }
        std::fs::remove_file(state.sum_path()).unwrap();
        assert!(state.placement().unwrap_err().to_string().contains("placement.sum"));
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
