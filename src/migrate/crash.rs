//! A test hook: `NETBALANCE_TEST_CRASH=PHASE` makes the real driver kill its
//! own process (SIGKILL, as a crash or `kill -9` would) at a fixed phase of
//! the first move, so that tests can take up a killed run at every phase
//! deterministically instead of by timing.
//!
//! Phases: `pre-dumped` and `pre-copied` (pre-copy only: after the first
//! round was dumped, and after it was sent), `suspended` (after the first VM was frozen), `in-dump` (while
//! `criu dump` of the first vnode runs), `dumped`, `in-restore` (while
//! `criu restore` runs), `restored`, `reattached`. Only a build with the
//! `test-hooks` feature (which only the tests enable) reads the variable;
//! in any other build, and with it unset, nothing happens.

use std::path::Path;
use std::time::{Duration, Instant};

/// The environment variable naming the phase to crash at.
#[cfg(feature = "test-hooks")]
pub const CRASH_ENV: &str = "NETBALANCE_TEST_CRASH";

#[cfg(feature = "test-hooks")]
fn wanted(phase: &str) -> bool {
    std::env::var(CRASH_ENV).is_ok_and(|p| p == phase)
}

#[cfg(not(feature = "test-hooks"))]
fn wanted(_phase: &str) -> bool {
    false
}

fn die() -> ! {
    // SAFETY: plain kill(2) of our own process.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL of self returned")
}

/// Crash now if `phase` is the one asked for.
pub fn after(phase: &str) {
    if wanted(phase) {
        die();
    }
}

/// If `phase` is the one asked for, crash as soon as a `criu` process whose
/// command line names `images` runs on this machine (the criu the caller is
/// about to start), while it runs.
pub fn during(phase: &str, images: &Path) {
    if !wanted(phase) {
        return;
    }
    let images = images.to_string_lossy().into_owned();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if !criu_using(&images).is_empty() {
                die();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Pids of the `criu` processes on this machine whose command line contains
/// `needle` (a vnode's images dir).
pub fn criu_using(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "criu" {
                return false;
            }
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmd.split(|&b| b == 0).any(|a| a == needle.as_bytes())
        })
        .collect()
}
