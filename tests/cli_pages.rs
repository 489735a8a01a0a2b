//! `netbalance pages` (hidden): the detached criu of a post-copy move over
//! SSH. Its readiness reaches the caller at once, its exit status is left
//! in the status file, and its relay carries exactly one connection from
//! the root namespace to 127.0.0.1 inside a vnode's namespace, both ways.
//! The relay test needs root (it makes a namespace).

mod testbed_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use testbed_support::{in_netns, NetnsGuard};

fn pages(status: &Path, relay: &[&str], cmd: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .arg("pages")
        .arg("--status")
        .arg(status)
        .args(relay)
        .arg("--")
        .args(cmd)
        .output()
        .unwrap()
}

/// The status file's text once it exists (at most 10 s).
fn status_of(f: &Path) -> String {
    let t0 = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(f) {
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no status in {}", f.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (pid, port) of the front's `ready PID PORT` line.
fn ready(out: &Output) -> (u32, u16) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    netbalance::testbed::pages::parse_ready(&text).unwrap_or_else(|| panic!("no ready line: {text:?}"))
}

#[test]
fn readiness_is_printed_at_once_and_the_exit_status_left_in_the_file() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("x.status");
    let t0 = Instant::now();
    let out = pages(&st, &[], &["sh", "-c", "printf x; sleep 1; exit 3"]);
    let (pid, port) = ready(&out);
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "the front waited for CMD's end"
    );
    assert_eq!(port, 0, "no relay, no port");
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "CMD {pid} does not run");
    assert!(!st.exists(), "a status while CMD runs");
    assert_eq!(status_of(&st), "3\n");
    // Killed: 128 + signal.
    let out = pages(&st, &[], &["sh", "-c", "printf x; exec sleep 30"]);
    let (pid, _) = ready(&out);
    std::fs::remove_file(&st).unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(status_of(&st), "137\n");
}

#[test]
fn a_command_that_ends_before_it_is_ready_fails_with_its_status() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("x.status");
    let out = pages(&st, &[], &["sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited with 4 before it was ready"), "{err}");
    assert_eq!(status_of(&st), "4\n");
    let out = pages(&st, &[], &["/nonexistent/criu"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start"));
    // --relay without --netns and --port is a usage error.
    let out = pages(&st, &["--relay", "127.0.0.1:0"], &["true"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_relay_carries_one_connection_into_the_namespace_both_ways() {
    if !testbed_support::require(&["ip"]) {
        return;
    }
    let mut guard = NetnsGuard::default();
    let ns = guard.add(&format!("{}pg", testbed_support::tag()));
    // Inside the namespace, on its loopback only: answer with the bytes reversed.
    let listener = in_netns(&ns, || TcpListener::bind("127.0.0.1:0").unwrap());
    let inner = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got.reverse();
        c.write_all(&got).unwrap();
    });
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("p.status");
    let netns = format!("/run/netns/{ns}");
    let inner_s = inner.to_string();
    let relay = ["--relay", "127.0.0.1:0", "--netns", &netns, "--port", &inner_s];
    let (pid, port) = ready(&pages(&st, &relay, &["sh", "-c", "printf x; exec sleep 30"]));
    assert_ne!(port, 0);
    let connected = netbalance::testbed::pages::connected_file(&st);
    assert!(!connected.exists());
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    c.write_all(&data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    server.join().unwrap();
    let mut want = data.clone();
    want.reverse();
    assert!(
        back == want,
        "{} bytes back, not the {} sent reversed",
        back.len(),
        want.len()
    );
    assert!(connected.exists(), "no {}", connected.display());
    // One connection only: the relay no longer listens.
    let again = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2));
    assert!(again.is_err(), "a second connection was accepted");
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(status_of(&st), "137\n");
    assert!(!netbalance::testbed::pages::relay_error_file(&st).exists());
}
