//! The state dir's lock: one `migrate` or `balance` at a time per state dir.
//!
//! The lock is a file `lock` holding `"<pid> <start time>\n"`, created with
//! `link(2)` from a fully written temp file, so it is atomic (like `O_EXCL`)
//! and never seen half-written. A lock whose process is gone (no such pid,
//! or a pid reused by a process started at another time) is stale and taken
//! over; the takeover runs under an `flock` on `lock.guard`, so two
//! processes never both remove the same stale lock. All of it goes through
//! the state dir's [`SecureDir`] (no symlink is followed). A pid that is not
//! a process id (0, negative, above `pid_max`) makes the file "not a lock
//! file": `kill(0, 0)` and `kill(-1, 0)` succeed and would lock forever.

use super::secure::{Access, SecureDir};
use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

/// Holds the state dir's lock until dropped.
#[derive(Debug)]
pub struct StateLock {
    dir: SecureDir,
    name: String,
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
        let pid: u32 = it.next()?.parse().ok()?;
        let start = it.next().map_or(Some(0), |s| s.parse().ok())?;
        if it.next().is_some() || pid == 0 || pid > pid_max() {
            return None;
        }
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

/// The largest pid the kernel hands out (`/proc/sys/kernel/pid_max`; the
/// kernel's upper bound 4194304 if unreadable).
fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(4_194_304)
}

/// The start time of a process.
fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, start)| start)
}

impl StateLock {
    /// Take the lock file `name` in the state dir `dir`, or fail with
    /// "locked by pid N" (exit 2) if a live process holds it.
    pub(crate) fn acquire(dir: SecureDir, name: &str) -> Result<StateLock> {
        let me = Owner::me();
        let shown = dir.path().join(name).display().to_string();
        let (tmp, mut file) = dir.create_temp(name).map_err(|e| Error::io(&shown, e))?;
        let written = file
            .write_all(me.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(&shown, e));
        let result = written.and_then(|()| Self::link_or_take_over(&dir, &tmp, name));
        let _ = dir.remove_c(&tmp);
        result.map(|()| StateLock {
            dir,
            name: name.to_string(),
            owner: me,
        })
    }

    fn link_or_take_over(dir: &SecureDir, tmp: &std::ffi::CString, name: &str) -> Result<()> {
        let path: PathBuf = dir.path().join(name);
        let io_err = |e: std::io::Error| Error::io(path.display().to_string(), e);
        // Two rounds: the second follows the removal of a stale lock.
        for _ in 0..2 {
            match dir.link(tmp, name) {
                Ok(()) => {
                    dir.sync();
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
            let guard = dir
                .open_file("lock.guard", Access::Guard)?
                .expect("opened with O_CREAT");
            if unsafe { libc::flock(guard.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(io_err(std::io::Error::last_os_error()));
            }
            // Under the guard: read the holder again and remove it only if stale.
            let holder = match dir.read(name)? {
                Some(bytes) => Owner::parse(&String::from_utf8_lossy(&bytes)),
                None => continue,
            };
            match holder {
                Some(owner) if owner.is_alive() => {
                    return Err(Error::usage(format!(
                        "state dir {:?} is locked by pid {} (another migrate or balance is running on it)",
                        dir.path(),
                        owner.pid
                    )));
                }
                Some(owner) => {
                    crate::info!(
                        "netbalance: taking over the stale lock of pid {} (no longer running) in {:?}",
                        owner.pid,
                        dir.path()
                    );
                }
                None => {
                    return Err(Error::usage(format!(
                        "{path:?}: not a lock file (expected \"PID START\" with 0 < PID <= pid_max); remove it if no netbalance runs on this state dir"
                    )));
                }
            }
            dir.remove(name)?;
            // The guard (flock) is released when `guard` is dropped here.
        }
        Err(Error::usage(format!(
            "{path:?}: could not take the lock (it keeps changing hands)"
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
        if let Ok(Some(bytes)) = self.dir.read(&self.name) {
            if Owner::parse(&String::from_utf8_lossy(&bytes)) == Some(self.owner) {
                let _ = self.dir.remove(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdir(t: &tempfile::TempDir) -> SecureDir {
        SecureDir::open(t.path(), false).unwrap().unwrap()
    }

    #[test]
    fn second_lock_in_same_dir_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let lock = StateLock::acquire(sdir(&dir), "lock").unwrap();
        let err = StateLock::acquire(sdir(&dir), "lock").unwrap_err();
        assert!(
            err.to_string().contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(!path.exists());
        StateLock::acquire(sdir(&dir), "lock").unwrap();
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
        let lock = StateLock::acquire(sdir(&dir), "lock").unwrap();
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
        let err = StateLock::acquire(sdir(&dir), "lock").unwrap_err();
        assert!(err.to_string().contains("not a lock file"), "{err}");
    }

    #[test]
    fn pids_that_are_not_process_ids_do_not_lock_forever() {
        // kill(0, 0) and kill(-1, 0) succeed: such a "holder" would never die.
        for text in ["0 0", "4294967295 0", "-1 0", "4194305 0", "1 2 3"] {
            assert_eq!(Owner::parse(text), None, "{text}");
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("lock"), text).unwrap();
            let err = StateLock::acquire(sdir(&dir), "lock").unwrap_err().to_string();
            assert!(err.contains("not a lock file"), "{text}: {err}");
        }
        assert!(Owner::parse("1 0").is_some());
    }

    #[test]
    fn planted_temp_symlinks_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let sd = dir.path().join("s");
        std::fs::create_dir(&sd).unwrap();
        // The names the old code used for the next pids.
        let me = std::process::id();
        for pid in me..me + 50 {
            std::os::unix::fs::symlink(&victim, sd.join(format!(".lock.{pid}.tmp"))).unwrap();
        }
        let lock = StateLock::acquire(SecureDir::open(&sd, false).unwrap().unwrap(), "lock").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        drop(lock);
        std::os::unix::fs::symlink(&victim, sd.join("lock")).unwrap();
        assert!(StateLock::acquire(SecureDir::open(&sd, false).unwrap().unwrap(), "lock").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
