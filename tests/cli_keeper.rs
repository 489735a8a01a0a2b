//! `netbalance keeper` (hidden): CMD's output and exit status reach the
//! caller; CMD's orphans are adopted by the keeper daemon (not pid 1) and
//! reaped; the daemon leaves once they are gone. No root needed.

use std::process::Command;
use std::time::{Duration, Instant};

fn keeper(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .arg("keeper")
        .args(args)
        .output()
        .unwrap()
}

/// (state, ppid) of a process, or None once it is gone.
fn stat(pid: u32) -> Option<(char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    Some((rest[0].chars().next()?, rest[1].parse().ok()?))
}

#[test]
fn passes_output_and_exit_status_through() {
    let out = keeper(&["--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // Killed by a signal: 128 + signal, as a shell reports it.
    assert_eq!(keeper(&["--", "sh", "-c", "kill -9 $$"]).status.code(), Some(137));
    // A program that cannot start: the keeper's own failure status.
    let out = keeper(&["--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot start"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn adopts_and_reaps_orphans_then_leaves() {
    // CMD leaves a background child behind and exits: the child is an orphan.
    let out = keeper(&["--", "sh", "-c", "sleep 30 </dev/null >/dev/null 2>&1 & echo $!"]);
    assert!(out.status.success());
    let orphan: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let (_, daemon) = stat(orphan).expect("the orphan runs");
    assert_ne!(daemon, 1, "the orphan went to pid 1");
    let cmdline = std::fs::read(format!("/proc/{daemon}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("keeper"),
        "parent {daemon} is not the keeper"
    );
    // Killed, it is reaped at once (no zombie left for pid 1), and the keeper leaves.
    unsafe { libc::kill(orphan as i32, libc::SIGKILL) };
    let t0 = Instant::now();
    while stat(orphan).is_some() {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "orphan {orphan} not reaped: {:?}",
            stat(orphan)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    while !matches!(stat(daemon), None | Some(('Z', _))) {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "keeper {daemon} still runs with nothing to keep"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn detach_returns_while_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let t0 = Instant::now();
    let out = keeper(&[
        "--detach",
        "--",
        "sh",
        "-c",
        "echo $$ > \"$1\"; exec sleep 30",
        "sh",
        pidfile.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(t0.elapsed() < Duration::from_secs(10));
    let pid = loop {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the detached command never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let (state, parent) = stat(pid).expect("the detached command runs");
    assert_ne!(state, 'Z');
    let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("keeper"),
        "parent {parent} is not the keeper"
    );
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}
