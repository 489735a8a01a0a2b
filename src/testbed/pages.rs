//! `netbalance pages` (hidden): one long-running criu process of a
//! post-copy move on a VM reached over SSH ([`super::lazy`]), detached from
//! the SSH session that started it, with its readiness reported at once and
//! its exit status left in a file for the controller to poll.
//!
//! ```text
//! netbalance pages --status FILE [--relay ADDR --netns PATH --port P] -- CMD…
//! ```
//!
//! CMD is `criu … --status-fd 1`: it writes one byte to its stdout once it
//! is ready (the page server listens, the lazy-pages daemon is connected),
//! or exits. The front process (the one SSH started) prints one line,
//! `ready PID PORT`, and exits 0 once CMD is ready (PID: CMD's pid on the
//! VM; PORT: the relay's, 0 without one); if CMD exits first it prints why
//! on stderr and exits 1. A daemon of its own session waits for CMD and
//! then writes CMD's exit status (128 + signal if killed) and a newline to
//! FILE (to `FILE.tmp`, renamed), and exits.
//!
//! With `--relay`: the page server of a `criu dump --lazy-pages` listens on
//! 127.0.0.1 of the vnode's own network namespace (criu runs inside it), out
//! of reach of the destination VM. The daemon also listens on ADDR (the VM's
//! own address, port chosen by the kernel) in the VM's root namespace and
//! relays the first connection to 127.0.0.1:P inside namespace PATH, byte for
//! byte both ways; it accepts no second one. The connection is plain TCP,
//! like the direct image transfer (docs/trust.md). On that connection it
//! creates `FILE.connected` (a later run then knows the pages are on their
//! way to another VM); a relay failure is written to `FILE.relay-error`.
//! Once CMD has exited, the daemon lets a connected relay pass on CMD's
//! last bytes (up to 5 s) before it writes FILE and ends.
//!
//! ```no_run
//! let spec = netbalance::testbed::pages::Spec {
//!     command: vec!["sh".into(), "-c".into(), "printf x; sleep 1".into()],
//!     status: "/tmp/x.status".into(),
//!     relay: None,
//! };
//! assert_eq!(netbalance::testbed::pages::run(&spec), 0);
//! ```
//!
//! Cost: one fork and one exec besides CMD; the relay copies through a
//! 256 KiB buffer per direction (`stream::copy_big`, two threads), O(bytes).

use super::daemon::{release_stdio, status_code, Forked};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What to run, where its status goes, and the relay if any.
#[derive(Debug, Clone)]
pub struct Spec {
    pub command: Vec<String>,
    pub status: PathBuf,
    pub relay: Option<Relay>,
}

/// Listen on `listen` (root namespace) and relay to 127.0.0.1:`port`
/// inside the network namespace at `netns`.
#[derive(Debug, Clone)]
pub struct Relay {
    pub listen: SocketAddr,
    pub netns: PathBuf,
    pub port: u16,
}

/// Exit status of the front when CMD or the daemon failed before ready.
pub const NOT_READY: i32 = 1;

/// Run `spec` (see the module doc); returns the front's exit status. Call
/// it only from a process with a single thread (it forks).
pub fn run(spec: &Spec) -> i32 {
    if spec.command.is_empty() {
        eprintln!("netbalance pages: no command given");
        return NOT_READY;
    }
    let listener = match &spec.relay {
        None => None,
        Some(r) => match TcpListener::bind(r.listen) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("netbalance pages: cannot listen on {}: {e}", r.listen);
                return NOT_READY;
            }
        },
    };
    match super::daemon::fork_reporting() {
        Err(e) => {
            eprintln!("netbalance pages: {e}");
            NOT_READY
        }
        Ok(Forked::Daemon(report)) => daemon(spec, listener, report),
        Ok(Forked::Front(mut f)) => {
            drop(listener);
            let mut said = String::new();
            let _ = f.read_to_string(&mut said);
            match said.strip_prefix("ready ") {
                Some(rest) => {
                    println!("ready {}", rest.trim());
                    0
                }
                None if said.is_empty() => {
                    eprintln!(
                        "netbalance pages: the daemon vanished before {:?} was ready",
                        spec.command[0]
                    );
                    NOT_READY
                }
                None => {
                    eprintln!("netbalance pages: {}", said.trim());
                    NOT_READY
                }
            }
        }
    }
}

/// The daemon: own session, CMD as child, report readiness, relay, wait,
/// write the status. Never returns.
fn daemon(spec: &Spec, listener: Option<TcpListener>, mut report: std::fs::File) -> ! {
    // SAFETY: setsid takes no pointers.
    unsafe { libc::setsid() };
    let argv = &spec.command;
    let spawned = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = write!(report, "cannot start {:?}: {e}", argv[0]);
            // SAFETY: leaving without running the front's destructors.
            unsafe { libc::_exit(0) }
        }
    };
    let mut byte = [0u8; 1];
    let ready = child.stdout.as_mut().map(|s| s.read(&mut byte));
    if !matches!(ready, Some(Ok(1))) {
        let code = exit_code(child.wait());
        write_status(&spec.status, code);
        let _ = write!(report, "{:?} exited with {code} before it was ready", argv[0]);
        // SAFETY: as above.
        unsafe { libc::_exit(0) }
    }
    let port = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| a.port());
    let _ = write!(report, "ready {} {port}", child.id());
    drop(report);
    release_stdio();
    // Set once the relay has a connection; `done` says when it has ended.
    let connected = Arc::new(AtomicBool::new(false));
    let (done_tx, done) = std::sync::mpsc::channel::<()>();
    if let (Some(l), Some(r)) = (listener, spec.relay.clone()) {
        let (status, connected) = (spec.status.clone(), connected.clone());
        std::thread::spawn(move || {
            if let Err(e) = relay_one(l, &r, &status, &connected) {
                let _ = std::fs::write(relay_error_file(&status), format!("{e}\n"));
            }
            let _ = done_tx.send(());
        });
    }
    let code = exit_code(child.wait());
    // The page server's last bytes may still be on their way through the
    // relay: let it finish (not for ever) before the process ends it.
    if connected.load(Ordering::SeqCst) {
        let _ = done.recv_timeout(RELAY_DRAIN);
    }
    write_status(&spec.status, code);
    // SAFETY: as above (a relay thread still waiting ends with the process).
    unsafe { libc::_exit(0) }
}

/// How long the daemon waits, once CMD has exited, for its relay to pass
/// on what CMD sent last.
const RELAY_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Accept one connection on `l`, close `l`, and relay the connection to 127.0.0.1:`r.port` in
/// namespace `r.netns` until both directions are closed.
fn relay_one(l: TcpListener, r: &Relay, status: &Path, connected: &AtomicBool) -> std::io::Result<()> {
    let (outside, _) = l.accept()?;
    drop(l); // no second connection
    connected.store(true, Ordering::SeqCst);
    std::fs::write(connected_file(status), b"")?;
    let ns = std::fs::File::open(&r.netns)?;
    // SAFETY: setns on an open namespace fd; it changes this thread only.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let inside = TcpStream::connect(("127.0.0.1", r.port))?;
    for s in [&outside, &inside] {
        let _ = s.set_nodelay(true);
    }
    let (mut a_in, mut a_out) = (outside.try_clone()?, inside.try_clone()?);
    let up = std::thread::spawn(move || pump(&mut a_in, &mut a_out));
    let (mut b_in, mut b_out) = (inside, outside);
    let down = pump(&mut b_in, &mut b_out);
    let up = up
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("relay thread panicked")));
    down.and(up)
}

/// Copy `from` into `to` until EOF, then half-close `to` (on an error,
/// close it both ways).
fn pump(from: &mut TcpStream, to: &mut TcpStream) -> std::io::Result<()> {
    match super::stream::copy_big(from, to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
            Ok(())
        }
        Err(e) => {
            let _ = to.shutdown(Shutdown::Both);
            Err(e)
        }
    }
}

/// The file the relay creates once a daemon has connected, beside the
/// status file (`FILE.connected`): the pages are on their way to it, and a
/// later run must not stop the page server as an orphan.
pub fn connected_file(status: &Path) -> PathBuf {
    let mut s = status.as_os_str().to_owned();
    s.push(".connected");
    PathBuf::from(s)
}

/// Where the daemon writes why its relay failed (it has no stderr):
/// beside the status file, `FILE.relay-error`.
pub fn relay_error_file(status: &Path) -> PathBuf {
    let mut s = status.as_os_str().to_owned();
    s.push(".relay-error");
    PathBuf::from(s)
}

fn exit_code(st: std::io::Result<std::process::ExitStatus>) -> i32 {
    st.map_or(super::keeper::KEEPER_FAILED, status_code)
}

/// Write `code` and a newline to `path` through `path.tmp` and a rename,
/// so that a reader sees the whole status or none.
pub fn write_status(path: &Path, code: i32) {
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, format!("{code}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// The exit status in a status file's text, if it holds one.
pub fn parse_status(text: &str) -> Option<i32> {
    text.strip_suffix('\n')?.parse().ok()
}

/// The pid and relay port in the front's `ready PID PORT` line.
pub fn parse_ready(line: &str) -> Option<(u32, u16)> {
    let mut w = line.trim().strip_prefix("ready ")?.split(' ');
    let pid = w.next()?.parse().ok()?;
    let port = w.next()?.parse().ok()?;
    w.next().is_none().then_some((pid, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_and_status_lines_parse_and_reject_junk() {
        assert_eq!(parse_ready("ready 4242 31000\n"), Some((4242, 31000)));
        assert_eq!(parse_ready("ready 4242 0"), Some((4242, 0)));
        assert_eq!(parse_ready("ready 4242"), None);
        assert_eq!(parse_ready("ready 4242 1 2"), None);
        assert_eq!(parse_ready("error: x"), None);
        assert_eq!(parse_status("0\n"), Some(0));
        assert_eq!(parse_status("137\n"), Some(137));
        assert_eq!(parse_status("13"), None, "a status without its newline is not complete");
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.status");
        write_status(&f, 9);
        assert_eq!(parse_status(&std::fs::read_to_string(&f).unwrap()), Some(9));
        assert!(!d.path().join("s.tmp").exists());
    }
}
