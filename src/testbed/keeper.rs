//! The keeper: a small daemon that is the parent of a vnode's processes, so
//! that they are reaped the moment a checkpoint kills them.
//!
//! Why: `criu dump` kills the dumped tree and `criu restore` needs the same
//! pids free again. A task's pid is free only once its parent has reaped it.
//! A tree restored with `criu restore -d` is an orphan, and so are the
//! children of a killed vnode root; orphans go to the nearest *child
//! subreaper* ancestor, else to pid 1, which on some machines reaps seconds
//! late (1.4–1.9 s here: docs/testbed.md). `netbalance keeper -- CMD…`
//! starts a daemon that sets `PR_SET_CHILD_SUBREAPER`, runs CMD as its
//! child and then reaps every child it gets until it has none left. CMD's
//! orphans (the tree `criu restore -d` leaves behind, or a vnode's
//! grandchildren) are adopted by the daemon, not by pid 1, and reaped at once.
//!
//! The front process (the one the executor started) waits for CMD and exits
//! with CMD's status (or, with `detach`, as soon as CMD has started); CMD
//! writes to the front's stdout and stderr, so errors reach the caller as
//! before. The daemon holds no descriptor of the caller's once CMD is done.
//!
//! ```no_run
//! // What `netbalance keeper -- nsenter --net=/run/netns/X criu restore -d …` runs:
//! let code = netbalance::testbed::keeper::run(&["true".to_string()], false);
//! assert_eq!(code, 0);
//! ```
//!
//! Cost: two forks and one exec more than running CMD directly (about a
//! millisecond); the daemon sleeps in `waitpid` and uses no CPU.

use super::daemon::{release_stdio, status_code, Forked};
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Exit status when the keeper itself failed (fork, pipe, exec of CMD).
pub const KEEPER_FAILED: i32 = 125;

/// Run `argv` under a reaping daemon; returns the exit status the front
/// process should exit with: CMD's (128 + signal if it was killed), or 0
/// once it started when `detach` is set. Call it only from a process with a
/// single thread (it forks).
pub fn run(argv: &[String], detach: bool) -> i32 {
    if argv.is_empty() {
        eprintln!("netbalance keeper: no command given");
        return KEEPER_FAILED;
    }
    match super::daemon::fork_reporting() {
        Err(e) => {
            eprintln!("netbalance keeper: {e}");
            KEEPER_FAILED
        }
        Ok(Forked::Daemon(status)) => daemon(argv, detach, status),
        Ok(Forked::Front(mut f)) => {
            let mut buf = [0u8; 4];
            match f.read_exact(&mut buf) {
                Ok(()) => i32::from_le_bytes(buf),
                Err(e) => {
                    eprintln!("netbalance keeper: the daemon vanished: {e}");
                    KEEPER_FAILED
                }
            }
        }
    }
}

/// The daemon: own session, subreaper, CMD as child, report, reap until no
/// child is left. Never returns.
fn daemon(argv: &[String], detach: bool, mut status: std::fs::File) -> ! {
    // SAFETY: setsid and prctl take no pointers.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if detach {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    }
    let code = match cmd.spawn() {
        Err(e) => {
            eprintln!("netbalance keeper: cannot start {:?}: {e}", argv[0]);
            KEEPER_FAILED
        }
        Ok(mut child) if !detach => match child.wait() {
            Ok(st) => status_code(st),
            Err(e) => {
                eprintln!("netbalance keeper: waiting for {:?}: {e}", argv[0]);
                KEEPER_FAILED
            }
        },
        Ok(_) => 0,
    };
    let _ = status.write_all(&code.to_le_bytes());
    drop(status);
    release_stdio();
    reap_all();
    // SAFETY: leaving without running destructors or atexit handlers of the front.
    unsafe { libc::_exit(0) }
}

/// Reap every child (including adopted orphans) until none is left.
fn reap_all() {
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local.
        let r = unsafe { libc::waitpid(-1, &mut st, 0) };
        if r == -1 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => return, // ECHILD: nothing left to keep
            }
        }
    }
}
