//! Bounded resources: the largest inputs the limits allow (docs/limits.md)
//! end in bounded time and memory. Each command runs as a child; its peak
//! memory (`ru_maxrss` from `wait4`) and wall time are printed (run with
//! `--nocapture` to see them) and checked against generous bounds, so a
//! quadratic path or a blow-up of the parsed objects fails the suite.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Exit status, wall time and peak resident memory (bytes) of one run.
struct Measured {
    code: Option<i32>,
    wall: Duration,
    peak_bytes: u64,
    stderr: String,
}

fn measure(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netbalance"));
    cmd.current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NETBALANCE_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    // Reaped by wait4 below (which also gives its resource usage).
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let wall = start.elapsed();
    let status = std::process::ExitStatus::from_raw(status);
    Measured {
        code: status.code(),
        wall,
        // ru_maxrss is in KiB on Linux.
        peak_bytes: usage.ru_maxrss as u64 * 1024,
        stderr: reader.join().unwrap(),
    }
}

/// What is run, its arguments, its environment, the exit code expected and the most peak memory allowed.
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], Option<i32>, f64);

fn report(what: &str, m: &Measured) {
    eprintln!(
        "bounded_resources: {what}: exit {:?}, {:.2} s, peak {:.1} MB",
        m.code,
        m.wall.as_secs_f64(),
        m.peak_bytes as f64 / 1e6
    );
}

/// A topology of `n` vnodes in a ring with chords (2n links), as netbalance JSON.
fn topology(path: &Path, n: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(f, "{{\"vnodes\":[").unwrap();
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        write!(f, "{sep}{{\"id\":\"n{i}\",\"memory_mb\":10,\"cpu\":0.01}}").unwrap();
    }
    write!(f, "],\"links\":[").unwrap();
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        let (a, b, c) = (i, (i + 1) % n, (i + 7) % n);
        write!(
            f,
            "{sep}{{\"a\":\"n{a}\",\"b\":\"n{b}\",\"mbps\":10}},{{\"a\":\"n{a}\",\"b\":\"n{c}\",\"mbps\":10}}"
        )
        .unwrap();
    }
    writeln!(f, "]}}").unwrap();
    f.flush().unwrap();
    drop(f);
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn largest_allowed_inputs_end_in_bounded_time_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Memory per vnode: place on two topology sizes; the slope is the cost of one vnode.
    let testbed = measure(d, &["testbed", "--hosts", "8", "--cpus", "8"], &[]);
    assert_eq!(testbed.code, Some(0));
    let out = Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .args(["testbed", "--hosts", "8", "--cpus", "8"])
        .output()
        .unwrap();
    std::fs::write(d.join("testbed.json"), out.stdout).unwrap();
    let mut points = Vec::new();
    for n in [25_000usize, 100_000] {
        let file = format!("topo{n}.json");
        let bytes = topology(&d.join(&file), n);
        let m = measure(
            d,
            &[
                "place",
                "--topology",
                &file,
                "--testbed",
                "testbed.json",
                "--moves",
                "1000",
            ],
            &[],
        );
        report(
            &format!(
                "place, {n} vnodes, {} links ({:.1} MB of JSON)",
                2 * n,
                bytes as f64 / 1e6
            ),
            &m,
        );
        assert_eq!(m.code, Some(0), "{}", m.stderr);
        points.push((n as f64, bytes as f64, m.peak_bytes as f64));
    }
    let per_vnode = (points[1].2 - points[0].2) / (points[1].0 - points[0].0);
    let per_input_byte = (points[1].2 - points[0].2) / (points[1].1 - points[0].1);
    eprintln!(
        "bounded_resources: memory per vnode (with 2 links): {:.2} KB; {per_input_byte:.1} bytes per input byte",
        per_vnode / 1e3
    );
    // docs/limits.md states the figure (0.8 KB; 2.6 KB while format detection
    // parsed the whole document into a serde_json::Value): a blow-up fails here.
    assert!(per_vnode < 2_000.0, "{per_vnode} bytes per vnode");

    // The largest allowed flags and the cap on inputs.
    let cases: &[Case] = &[
        (
            "testbed at the VM limit",
            &["testbed", "--hosts", "1000", "--cpus", "1000"],
            &[],
            Some(0),
            2e9,
        ),
        (
            "testbed over the VM limit",
            &["testbed", "--hosts", "1001", "--cpus", "1000"],
            &[],
            Some(2),
            1e8,
        ),
        (
            "a file over the input cap (refused by its size)",
            &["cost", "--topology", "topo100000.json", "--testbed", "testbed.json"],
            &[("NETBALANCE_MAX_INPUT_BYTES", "1000000")],
            Some(2),
            1e8,
        ),
        (
            "waxman over the node limit",
            &["topology", "waxman", "--nodes", "20001"],
            &[],
            Some(2),
            1e8,
        ),
        (
            "simulate over the run limit",
            &["simulate", "--runs", "100001"],
            &[],
            Some(2),
            1e8,
        ),
    ];
    for (what, args, env, code, max_peak) in cases {
        let m = measure(d, args, env);
        report(what, &m);
        assert_eq!(m.code, *code, "{what}: {}", m.stderr);
        assert!((m.peak_bytes as f64) < *max_peak, "{what}: peak {} bytes", m.peak_bytes);
        assert!(m.wall < Duration::from_secs(120), "{what}: {:?}", m.wall);
        if *code == Some(2) {
            assert_eq!(m.stderr.trim_end().lines().count(), 1, "{what}: {}", m.stderr);
        }
    }
}
