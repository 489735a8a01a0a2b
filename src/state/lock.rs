//! The state dir's lock: one `migrate` or `balance` at a time per state dir.
//!
//! The lock is a file `lock` holding `"<pid> <start time>\n"`, created with
//! `link(2)` from a fully written temp file, so it is atomic (like `O_EXCL`)
//! and never seen half-written. A lock whose process is gone (no such pid,
//! or a pid reused by a process started at another time) is stale and taken
//! over; the takeover runs under an `flock` on `lock.guard`, so two
//! processes never both remove the same stale lock.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Holds the state dir's lock until dropped.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    owner: Owner,
}

/// Who holds a lock: a pid and the process start time (clock ticks since
/// boot, from `/proc/PID/stat`; 0 if unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    fn me() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }
    fn render(&self) -> String {
        format!("{} {}\n", self.pid, self.start)
    }
    fn parse(text: &str) -> Option<Owner> {
        let mut it = text.split_whitespace();
        let pid = it.next()?.parse().ok()?;
        let start = it.next().map_or(Some(0), |s| s.parse().ok())?;
        Some(Owner { pid, start })
    }
    /// True while the process that took the lock still runs.
    pub fn is_alive(&self) -> bool {
        match proc_stat(self.pid) {
            // A zombie (killed, not yet reaped) holds nothing any more.
            Some((state, _)) if state == "Z" => false,
            Some((_, start)) => self.start == 0 || start == self.start,
            None => {
                // No /proc entry readable: ask the kernel directly.
                let r = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
                r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
            }
        }
    }
}

/// The state (field 3) and start time (field 22) of `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: parse after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(19)?.parse().ok()?))
}

/// The start time of a process.
fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, start)| start)
}

impl StateLock {
    /// Take the lock at `path` (in the state dir `dir`), or fail with
    /// "locked by pid N" (exit 2) if a live process holds it.
    pub(crate) fn acquire(dir: &Path, path: PathBuf) -> Result<StateLock> {
        let me = Owner::me();
        let tmp = dir.join(format!(".lock.{}.tmp", me.pid));
        write_synced(&tmp, me.render().as_bytes()).map_err(|e| Error::io(tmp.display().to_string(), e))?;
        let result = Self::link_or_take_over(dir, &tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        result.map(|()| StateLock { path, owner: me })
    }

    fn link_or_take_over(dir: &Path, tmp: &Path, path: &Path) -> Result<()> {
        let io_err = |e: std::io::Error| Error::io(path.display().to_string(), e);
        // Two rounds: the second follows the removal of a stale lock.
        for _ in 0..2 {
            match std::fs::hard_link(tmp, path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
            let guard_path = dir.join("lock.guard");
            let guard = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&guard_path)
                .map_err(io_err)?;
            if unsafe { libc::flock(guard.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(io_err(std::io::Error::last_os_error()));
            }
            // Under the guard: read the holder again and remove it only if stale.
            let holder = match std::fs::read_to_string(path) {
                Ok(text) => Owner::parse(&text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(e)),
            };
            match holder {
                Some(owner) if owner.is_alive() => {
                    return Err(Error::usage(format!(
                        "state dir {} is locked by pid {} (another migrate or balance is running on it)",
                        dir.display(),
                        owner.pid
                    )));
                }
                Some(owner) => {
                    eprintln!(
                        "netbalance: taking over the stale lock of pid {} (no longer running) in {}",
                        owner.pid,
                        dir.display()
                    );
                }
                None => {
                    return Err(Error::usage(format!(
                        "{}: not a lock file (expected \"PID START\"); remove it if no netbalance runs on this state dir",
                        path.display()
                    )));
                }
            }
            std::fs::remove_file(path).map_err(io_err)?;
            // The guard (flock) is released when `guard` is dropped here.
        }
        Err(Error::usage(format!(
            "{}: could not take the lock (it keeps changing hands)",
            path.display()
        )))
    }

    /// The process holding this lock (this one).
    pub fn owner(&self) -> Owner {
        self.owner
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Remove the lock only if it is still ours.
        if let Ok(text) = std::fs::read_to_string(&self.path) {
            if Owner::parse(&text) == Some(self.owner) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_same_dir_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let lock = StateLock::acquire(dir.path(), path.clone()).unwrap();
        let err = StateLock::acquire(dir.path(), path.clone()).unwrap_err();
        assert!(
            err.to_string().contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(!path.exists());
        StateLock::acquire(dir.path(), path).unwrap();
    }

    #[test]
    fn stale_lock_of_a_dead_pid_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // A child that has exited and been reaped: its pid is dead.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&path, format!("{dead} 12345\n")).unwrap();
        let lock = StateLock::acquire(dir.path(), path.clone()).unwrap();
        assert_eq!(
            Owner::parse(&std::fs::read_to_string(&path).unwrap()),
            Some(lock.owner())
        );
    }

    #[test]
    fn a_live_pid_with_another_start_time_is_stale() {
        let me = Owner::me();
        assert!(me.is_alive());
        assert!(!Owner {
            pid: me.pid,
            start: me.start + 1
        }
        .is_alive());
    }

    #[test]
    fn garbage_lock_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "hello").unwrap();
        let err = StateLock::acquire(dir.path(), path).unwrap_err();
        assert!(err.to_string().contains("not a lock file"), "{err}");
    }
}
