//! `netbalance balance --replay` on a recorded stream made here: the paper's
//! sink-change scenario scaled down (a 6×6 grid, 2 hosts × 2 VMs, the sink
//! moving every 60 s, 1 s samples). Checks the decision log decodes, τ
//! recovers after each change, no vnode is lost, restarts continue, and bad
//! input is refused with exit 2.

use assert_cmd::Command;
use netbalance::balance::{Decision, LogLine, Reason, StopCause, Summary, WindowRecord};
use netbalance::migrate::fake::World;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const W: usize = 6;
const RATE: f64 = 10.0;
/// CPU-seconds per Mbit a vnode receives or sends (the scenario's c_proc, scaled so τ ≈ 2–4).
const C_PROC: f64 = 2e-3;
/// Sinks (grid corners) and the times they take over; the stream ends at 240 s.
const SINKS: [(usize, f64); 4] = [(0, 0.0), (W * W - 1, 65.0), (W - 1, 125.0), (W * (W - 1), 185.0)];
const END: usize = 240;

fn id(i: usize) -> String {
    format!("n{i}")
}

fn grid_links() -> Vec<(usize, usize)> {
    let mut links = Vec::new();
    for y in 0..W {
        for x in 0..W {
            let i = y * W + x;
            if x + 1 < W {
                links.push((i, i + 1));
            }
            if y + 1 < W {
                links.push((i, i + W));
            }
        }
    }
    links
}

/// One snapshot with every vnode streaming RATE to `sink` along a BFS tree
/// (ties to the lowest-index neighbour).
fn snapshot(t: f64, sink: usize, links: &[(usize, usize)]) -> serde_json::Value {
    let n = W * W;
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in links {
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut dist = vec![usize::MAX; n];
    let mut order = Vec::new();
    let mut queue = VecDeque::from([sink]);
    dist[sink] = 0;
    while let Some(v) = queue.pop_front() {
        order.push(v);
        let mut next = adj[v].clone();
        next.sort();
        for w in next {
            if dist[w] == usize::MAX {
                dist[w] = dist[v] + 1;
                queue.push_back(w);
            }
        }
    }
    let parent: Vec<Option<usize>> = (0..n)
        .map(|v| adj[v].iter().copied().filter(|&w| dist[w] + 1 == dist[v]).min())
        .collect();
    let mut subtree = vec![1usize; n];
    for &v in order.iter().rev() {
        if let Some(p) = parent[v] {
            subtree[p] += subtree[v];
        }
    }
    let mut cpu = BTreeMap::new();
    let mut rates = BTreeMap::new();
    for v in 0..n {
        let received = (subtree[v] - 1) as f64 * RATE;
        let sent = if v == sink { 0.0 } else { subtree[v] as f64 * RATE };
        cpu.insert(id(v), C_PROC * (received + sent));
        if let Some(p) = parent[v] {
            rates.insert((v.min(p), v.max(p)), subtree[v] as f64 * RATE);
        }
    }
    let mbps: Vec<_> = rates
        .iter()
        .map(|(&(a, b), &r)| json!({"a": id(a), "b": id(b), "rate": r}))
        .collect();
    json!({"t": t, "cpu": cpu, "mbps": mbps})
}

/// Write topology.json, testbed.json and loads.ndjson into `dir`.
fn scenario(dir: &Path) {
    let links = grid_links();
    let topo = json!({
        "vnodes": (0..W * W).map(|i| json!({"id": id(i), "memory_mb": 10.0})).collect::<Vec<_>>(),
        "links": links.iter().map(|&(a, b)| json!({"a": id(a), "b": id(b), "mbps": 1000.0})).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("topology.json"), topo.to_string()).unwrap();
    let out = Command::cargo_bin("netbalance")
        .unwrap()
        .args(["testbed", "--hosts", "2", "--cpus", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(dir.join("testbed.json"), &out.stdout).unwrap();
    let mut lines = String::new();
    for t in 0..END {
        let sink = SINKS.iter().rev().find(|s| s.1 <= t as f64).unwrap().0;
        lines.push_str(&snapshot(t as f64, sink, &links).to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join("loads.ndjson"), lines).unwrap();
}

fn balance(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir)
        .args([
            "balance",
            "--replay",
            "loads.ndjson",
            "--topology",
            "topology.json",
            "--testbed",
            "testbed.json",
        ])
        .args(["--moves", "3000", "--seed", "7"])
        .args(extra)
        .output()
        .unwrap()
}

fn decode(stdout: &[u8]) -> (Vec<WindowRecord>, Summary) {
    let lines: Vec<LogLine> = std::str::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (last, windows) = lines.split_last().expect("no output");
    let LogLine::Summary(summary) = last.clone() else {
        panic!("the last line is not the summary")
    };
    let windows = windows
        .iter()
        .map(|l| match l {
            LogLine::Window(w) => w.clone(),
            LogLine::Summary(_) => panic!("a summary before the end"),
        })
        .collect();
    (windows, summary)
}

#[test]
fn tau_recovers_after_each_sink_change_and_no_vnode_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let out = balance(dir.path(), &["--report", "tau.svg"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (windows, summary) = decode(&out.stdout);
    assert_eq!(windows.len(), END / 10);
    assert_eq!(summary.stopped_by, StopCause::EndOfStream);
    for w in &windows {
        assert!(
            w.decision == Decision::Kept || (w.chi.unwrap() < 0.0 && w.reason == Reason::Beneficial),
            "{w:?}"
        );
    }
    for &(_, change) in &SINKS[1..] {
        // The window that sees the new sink first (last-value prediction)...
        let react = windows.iter().find(|w| w.t >= change).unwrap();
        let before = windows.iter().rev().find(|w| w.t < change).unwrap();
        assert!(react.tau_now > before.tau_actual * 1.2, "the change hurts: {react:?}");
        assert_eq!(react.decision, Decision::Changed, "{react:?}");
        // ...and τ in the next window is back near where it was, far below the baseline's.
        let after = windows.iter().find(|w| w.t >= react.t + 10.0).unwrap();
        assert!(
            after.tau_actual < react.tau_now * 0.8,
            "τ recovers: {} vs {}",
            after.tau_actual,
            react.tau_now
        );
        assert!(after.tau_actual < after.tau_baseline, "{after:?}");
    }
    assert!(summary.relative_runtime < 0.9, "{summary:?}");
    let total_real: f64 = windows.iter().map(|w| w.real_s).sum();
    // records are rounded to 6 significant digits (io::RESULT_DIGITS)
    assert!((total_real - summary.real_s).abs() < 1e-5 * summary.real_s.max(1.0));

    // No vnode lost: replaying the moves over the baseline gives the placement in force.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".netbalance/balance.json")).unwrap()).unwrap();
    let mut vm_of: BTreeMap<String, String> = serde_json::from_value(state["baseline"]["vm_of"].clone()).unwrap();
    for w in &windows {
        for m in &w.moved {
            assert_eq!(
                vm_of.insert(m.vnode.clone(), m.to.clone()).as_deref(),
                Some(m.from.as_str()),
                "{m:?}"
            );
        }
    }
    let in_force: BTreeMap<String, String> = serde_json::from_value(state["placement"]["vm_of"].clone()).unwrap();
    assert_eq!(vm_of, in_force);
    assert_eq!(in_force.len(), W * W);
    assert_eq!(state["window"], json!(windows.len()));

    let svg = std::fs::read_to_string(dir.path().join("tau.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WINDOW") && stderr.contains("changed"), "{stderr}");
}

#[test]
fn a_restarted_run_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let whole = balance(dir.path(), &["--state-dir", "whole"]);
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let first = balance(dir.path(), &["--state-dir", "parts", "--windows", "9"]);
    let second = balance(dir.path(), &["--state-dir", "parts"]);
    assert!(
        first.status.success() && second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let (w1, s1) = decode(&first.stdout);
    let (w2, s2) = decode(&second.stdout);
    assert_eq!((s1.stopped_by, s1.next_window), (StopCause::Windows, 9));
    assert_eq!(w2[0].window, 9);
    assert_eq!(s2.next_window as usize, END / 10);
    let (whole_windows, _) = decode(&whole.stdout);
    let joined: Vec<WindowRecord> = w1.into_iter().chain(w2).collect();
    assert_eq!(joined.len(), whole_windows.len());
    for (a, b) in joined.iter().zip(&whole_windows) {
        assert_eq!((a.window, a.decision, &a.moved), (b.window, b.decision, &b.moved));
        assert_eq!(a.tau_now.to_bits(), b.tau_now.to_bits());
    }
}

#[test]
fn max_moves_and_min_gain_hold() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let out = balance(dir.path(), &["--max-moves", "2", "--windows", "12"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (windows, _) = decode(&out.stdout);
    assert!(windows.iter().all(|w| w.moved.len() <= 2 && w.moves <= 2));
    assert!(windows.iter().any(|w| w.decision == Decision::Changed));
    let out = balance(dir.path(), &["--state-dir", "strict", "--min-gain", "0.95"]);
    let (windows, summary) = decode(&out.stdout);
    assert!(windows.iter().any(|w| w.reason == Reason::BelowMinGain));
    assert_eq!(summary.changes, 0);
}

#[test]
fn bad_input_and_live_mode_exit_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    std::fs::write(
        dir.path().join("bad.ndjson"),
        "{\"t\":0,\"cpu\":{\"n0\":0.1}}\n{\"t\":1,\"cpu\":{\"nope\":0.1}}\n",
    )
    .unwrap();
    let out = Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "balance",
            "--replay",
            "bad.ndjson",
            "--topology",
            "topology.json",
            "--testbed",
            "testbed.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.ndjson:2") && err.contains("nope"), "{err}");
    assert!(out.stdout.is_empty());

    let out = Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .args(["balance", "--topology", "topology.json", "--testbed", "testbed.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "live with nothing deployed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing deployed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A what-if state dir is not continued by a live run.
    assert!(balance(dir.path(), &["--state-dir", "whatif", "--windows", "1"])
        .status
        .success());
    let out = Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "balance",
            "--load",
            "-",
            "--state-dir",
            "whatif",
            "--topology",
            "topology.json",
            "--testbed",
            "testbed.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("what-if"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = balance(dir.path(), &["--interval", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"));
}

/// Live mode against the migrate engine's fake driver (no hosts): deploy a
/// placement made for the expected load, stream the sink's load on stdin,
/// let `balance` migrate, interrupt it with SIGINT after the first window,
/// and check the fake testbed holds exactly the placement in force.
#[test]
fn live_balance_migrates_with_the_engine_and_stops_cleanly_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let driver = format!("fake:{}", dir.path().join("world.json").display());
    let place = Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "place",
            "--topology",
            "topology.json",
            "--testbed",
            "testbed.json",
            "--moves",
            "2000",
        ])
        .output()
        .unwrap();
    assert!(place.status.success(), "{}", String::from_utf8_lossy(&place.stderr));
    std::fs::write(dir.path().join("p0.json"), &place.stdout).unwrap();
    let deploy = Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .env("NETBALANCE_TEST_DRIVER", &driver)
        .args(["migrate", "--target", "p0.json", "--quiet"])
        .output()
        .unwrap();
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("netbalance"))
        .current_dir(dir.path())
        .env("NETBALANCE_TEST_DRIVER", &driver)
        .args([
            "balance",
            "--loads", // the old spelling of --load still works
            "-",
            "--tp",
            "2",
            "--to",
            "0.1",
            "--moves",
            "3000",
            "--interval",
            "0.1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let links = grid_links();
    let mut stdin = child.stdin.take().unwrap();
    for t in 0..3 {
        writeln!(stdin, "{}", snapshot(t as f64, W * W - 1, &links)).unwrap();
    }
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let LogLine::Window(w0) = serde_json::from_str(&first).unwrap() else {
        panic!("{first}")
    };
    assert_eq!(w0.decision, Decision::Changed, "{w0:?}");
    assert!(w0.t_r_measured.is_some(), "a live migration is timed");
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "balance did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "{status:?}");
    let (windows, summary) = decode(format!("{first}{rest}").as_bytes());
    assert_eq!(summary.stopped_by, StopCause::Signal);
    assert_eq!(summary.next_window as usize, windows.len());

    // The placement in force is what the fake testbed runs: no vnode lost or doubled.
    let in_force: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".netbalance/placement.json")).unwrap()).unwrap();
    let vm_of: BTreeMap<String, String> = serde_json::from_value(in_force["vm_of"].clone()).unwrap();
    assert_eq!(vm_of.len(), W * W);
    let world: World = serde_json::from_str(&std::fs::read_to_string(dir.path().join("world.json")).unwrap()).unwrap();
    world.check(&vm_of).unwrap();
    let p0: serde_json::Value = serde_json::from_slice(&place.stdout).unwrap();
    assert_ne!(
        serde_json::to_value(&vm_of).unwrap(),
        p0["vm_of"],
        "the live run migrated"
    );
}

#[test]
fn other_predictors_drive_the_loop_and_bad_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    for (state, predictor) in [
        ("ewma", ["--predictor", "ewma", "--alpha", "0.5"]),
        ("periodic", ["--predictor", "periodic", "--max-lag", "64"]),
    ] {
        let out = balance(dir.path(), &[&["--state-dir", state][..], &predictor[..]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (windows, summary) = decode(&out.stdout);
        assert_eq!(windows.len(), END / 10);
        assert!(
            summary.changes >= 3 && summary.relative_runtime < 0.9,
            "{predictor:?}: {summary:?}"
        );
    }
    // EWMA lags a sink change: its first window after a change predicts a mix of both sinks.
    let last = balance(dir.path(), &["--state-dir", "last2"]);
    let ewma = balance(
        dir.path(),
        &["--state-dir", "ewma2", "--predictor", "ewma", "--alpha", "0.2"],
    );
    let (lw, _) = decode(&last.stdout);
    let (ew, _) = decode(&ewma.stdout);
    assert_ne!(
        lw.iter().map(|w| w.tau_now.to_bits()).collect::<Vec<_>>(),
        ew.iter().map(|w| w.tau_now.to_bits()).collect::<Vec<_>>(),
        "the predictor changes what the decisions see"
    );
    for bad in [["--alpha", "0"], ["--history", "0"]] {
        let out = balance(dir.path(), &[&["--predictor", "ewma"][..], &bad[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad[0]));
    }
}
