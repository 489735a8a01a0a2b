//! Issue 13 item 6: the paper's scenario, live, on the lab's Debian VMs.
//!
//! A GRID×GRID grid of vnodes, each running `netbalance traffic` (the
//! provisioned binary, `$NETBALANCE`): every vnode but the sink sends
//! MBPS Mbit/s of UDP towards the sink along the shortest-path tree and
//! relays what it receives, processing each packet (its CPU shows in its
//! cgroup). Deployed half and half with the sink where that placement
//! leaves least to gain; the sink then moves twice, each time to where a
//! re-placement gains most on the placement in force. `netbalance balance`
//! runs live over SSH: `monitor` samples, the placer re-places, CRIU moves.
//! Checks: a migration follows each move of the sink; measured τ is lower
//! after it than at the last sample before its decision (what the loop
//! decided on: the `last` predictor); and every vnode runs exactly
//! once, on the VM the placement in force names. τ after a migration is
//! that of the first window without one that begins once the migration has
//! ended (one that outlasts its window runs into the next: windows keep
//! their grid, and a relay paused for tens of seconds lowers the τ of the
//! window it falls in, for the wrong reason). τ with the deployed placement
//! is reported beside it. The
//! decision log, table and τ plot (Fig. 5 style) are kept in
//! `$CARGO_TARGET_TMPDIR/paper_live/`.
//!
//! Under TCG a move takes tens of seconds: windows are long (T_p 30 s), and
//! each phase lasts until its migration has been followed by a full window.

use super::lab::{self, Lab};
use netbalance::balance::{Decision, LogLine, WindowRecord};
use netbalance::model::Placement;
use netbalance::testbed::exec::{Cmd, Executor};
use netbalance::testbed::names;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GRID: usize = 4;
const MBPS: f64 = 0.25;
const C_PROC: f64 = 0.04;
const TP_S: f64 = 30.0;
const TO_S: f64 = 5.0;
/// Seconds between two samples of the load.
const INTERVAL_S: f64 = 5.0;
/// Longest a sink position may wait for its migration and the window after
/// it: 20 windows. Under TCG a move takes 30-50 s and a migration may move
/// several vnodes one after another, then follow up once; a CI run whose
/// lab was slow needed more than 14 windows (420 s).
const PHASE_LIMIT: Duration = Duration::from_secs(600);

/// Write `text` to `path` on `vm` (its directory made first).
fn put(lab: &Lab, vm: &str, path: &str, text: &str) {
    let mut ex = lab.executor(vm);
    ex.run(
        &Cmd::new("sh")
            .args(["-c", "mkdir -p \"$(dirname \"$1\")\" && cat >\"$1\"", "sh", path])
            .stdin(text.to_string()),
    )
    .unwrap_or_else(|e| panic!("{vm}: writing {path}: {e}"));
}

/// Panics with balance's stderr if it has ended.
fn still_running(child: &mut std::process::Child) {
    if let Some(status) = child.try_wait().unwrap() {
        let mut stderr = String::new();
        if let Some(e) = child.stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut stderr);
        }
        panic!("balance ended early ({status}): {stderr}");
    }
}

#[test]
fn balance_follows_the_moving_sink_of_real_traffic_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].clone(), lab.vms[1].clone());
    let tag = crate::testbed_support::tag();
    let vm_dir = format!("/var/lib/netbalance-traffic/{tag}");
    let topo = crate::testbed_support::traffic_grid(&tag, GRID, &vm_dir, MBPS, C_PROC, 10.0);
    let topo_json = serde_json::to_string(&topo).unwrap();
    let write_sink = |id: &str| {
        for vm in [&h0, &h1] {
            put(lab, vm, &format!("{vm_dir}/sink"), &format!("{id}\n"));
        }
    };
    for vm in [&h0, &h1] {
        put(lab, vm, &format!("{vm_dir}/topology.json"), &topo_json);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topo.json"), &topo_json).unwrap();
    // Deployed about half and half (by index); the first sink is the one
    // for which this placement leaves least to gain, so the run starts near balance.
    let mut p0 = Placement::default();
    for (i, v) in topo.vnodes.iter().enumerate() {
        let vm = if i < GRID * GRID / 2 + 1 { &h0 } else { &h1 };
        p0.vm_of.insert(v.id.clone(), vm.clone());
    }
    std::fs::write(d.join("p0.json"), serde_json::to_string(&p0).unwrap()).unwrap();
    let first = crate::testbed_support::sinks_by_gain(&topo, &lab.testbed(), &p0, MBPS, C_PROC)[0]
        .0
        .clone();
    let sink = std::cell::RefCell::new(first);
    write_sink(&sink.borrow());
    let common = |c: &mut std::process::Command| {
        c.arg("--topology")
            .arg(d.join("topo.json"))
            .arg("--testbed")
            .arg(&lab.testbed_path)
            .arg("--state-dir")
            .arg(d.join("state"));
    };
    let t0 = Instant::now();
    let mut deploy = lab.netbalance();
    deploy.args(["migrate", "--quiet", "--target"]).arg(d.join("p0.json"));
    common(&mut deploy);
    let out = deploy.output().unwrap();
    assert!(out.status.success(), "deploy: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "deploy of {} vnodes: {:.1} s",
        topo.vnodes.len(),
        t0.elapsed().as_secs_f64()
    );
    struct Teardown<'a>(&'a Lab, PathBuf, PathBuf, [String; 2], String);
    impl Drop for Teardown<'_> {
        fn drop(&mut self) {
            let out = self
                .0
                .netbalance()
                .args(["migrate", "--quiet", "--teardown", "--topology"])
                .arg(&self.1)
                .arg("--testbed")
                .arg(&self.0.testbed_path)
                .arg("--state-dir")
                .arg(&self.2)
                .output();
            if let Ok(o) = out {
                if !o.status.success() {
                    eprintln!("teardown: {}", String::from_utf8_lossy(&o.stderr));
                }
            }
            for vm in &self.3 {
                let _ = self.0.ssh(vm, &["rm", "-rf", "--", &self.4]);
            }
        }
    }
    let _teardown = Teardown(
        lab,
        d.join("topo.json"),
        d.join("state"),
        [h0.clone(), h1.clone()],
        vm_dir.clone(),
    );

    // balance, live, until stopped by SIGINT after the last phase.
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("paper_live");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut bal = lab.netbalance();
    bal.args([
        "balance",
        "--tp",
        &TP_S.to_string(),
        "--to",
        &TO_S.to_string(),
        "--interval",
        &INTERVAL_S.to_string(),
        "--moves",
        "2000",
        // A move takes tens of seconds under TCG: skip re-placements that
        // would save under a tenth of the window (noise-sized gains).
        "--min-gain",
        "0.1",
    ])
    .arg("--report")
    .arg(out_dir.join("tau.svg"));
    common(&mut bal);
    let mut child = crate::testbed_support::ChildGuard(
        bal.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let windows: Arc<Mutex<Vec<WindowRecord>>> = Arc::default();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader = {
        let (windows, lines) = (windows.clone(), lines.clone());
        let stdout = child.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                eprintln!("{line}");
                if let Ok(LogLine::Window(w)) = serde_json::from_str::<LogLine>(&line) {
                    windows.lock().unwrap().push(w);
                }
                lines.lock().unwrap().push(line);
            }
        })
    };
    // Each phase: wait for a migration, then for a full window after it.
    // The sink moves to where a re-placement would gain most, right
    // after a window has begun (so that window measures the new sink's load).
    let move_sink = |child: &mut std::process::Child| {
        let in_force: Placement =
            serde_json::from_str(&std::fs::read_to_string(d.join("state/placement.json")).unwrap()).unwrap();
        let next = crate::testbed_support::sink_with_most_to_gain(
            &topo,
            &lab.testbed(),
            &in_force,
            MBPS,
            C_PROC,
            &sink.borrow(),
        );
        let n = windows.lock().unwrap().len();
        while windows.lock().unwrap().len() == n {
            still_running(child);
            std::thread::sleep(Duration::from_millis(200));
        }
        write_sink(&next);
        eprintln!("sink moves from {} to {next}", sink.borrow());
        *sink.borrow_mut() = next;
        n + 1
    };
    let mut taus = Vec::new();
    for k in 1..=2 {
        // Index of the first window of the phase (the one in progress when
        // the sink moved: it decided on the old sink's load).
        let from = move_sink(&mut child.0);
        let started = Instant::now();
        let (before, after, window) = loop {
            assert!(
                started.elapsed() < PHASE_LIMIT,
                "sink {k}: no migration followed by a window without one within {PHASE_LIMIT:?}: {:?}",
                &windows.lock().unwrap()[from..]
            );
            still_running(&mut child.0);
            std::thread::sleep(Duration::from_secs(1));
            let ws = windows.lock().unwrap();
            let phase = &ws[from.min(ws.len())..];
            let Some(m) = phase
                .iter()
                .enumerate()
                .position(|(i, w)| i > 0 && w.decision == Decision::Changed && w.t_r_measured.is_some())
            else {
                continue;
            };
            // Before: τ of the placement in force at the load the loop
            // predicted from the samples just before its decision. After:
            // the first window without a migration that begins once every
            // migration of the phase has ended (a move under TCG pauses a
            // relay, and so the traffic behind it, for tens of seconds, and
            // one that outlasts its window runs into the next: windows keep
            // their grid).
            let mut settled = 0.0f64;
            let quiet = phase[m..].iter().find(|w| {
                if w.decision == Decision::Changed {
                    settled = settled.max(w.t + TO_S + w.t_r_measured.unwrap_or(TP_S) + INTERVAL_S);
                    return false;
                }
                w.t >= settled
            });
            if let Some(quiet) = quiet {
                break (phase[m].tau_now, (quiet.tau_actual, quiet.tau_baseline), quiet.window);
            }
        };
        eprintln!(
            "sink {k}: τ {before:.2} measured before its migration, {:.2} in window {window} after it ({:.2} with the deployed placement)",
            after.0, after.1
        );
        taus.push((k, before, after.0));
    }
    // SIGINT: balance finishes the window, prints its summary and the plot.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGINT) };
    let status = child.0.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    eprintln!("{stderr}");
    std::fs::write(
        out_dir.join("decisions.ndjson"),
        lines.lock().unwrap().join("\n") + "\n",
    )
    .unwrap();
    std::fs::write(out_dir.join("table.txt"), &stderr).unwrap();
    assert!(status.success(), "balance: {status:?}");
    assert!(out_dir.join("tau.svg").exists());
    // Each migration: its moves and its measured makespan (the pause of the moved vnodes).
    for w in windows
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.decision == Decision::Changed)
    {
        let moved: Vec<String> = w
            .moved
            .iter()
            .map(|m| format!("{} {}→{}", m.vnode, m.from, m.to))
            .collect();
        eprintln!(
            "migration at {:.0} s: {} (model T_r {:.2} s, measured {:.1} s)",
            w.t,
            moved.join(", "),
            w.t_r,
            w.t_r_measured.unwrap_or(f64::NAN)
        );
    }
    // Measured τ lower after each sink's migration than the loop's
    // τ just before it.
    for (k, before, after) in taus {
        assert!(
            after < before,
            "sink {k}: measured τ {after:.3} after the migration, {before:.3} before it"
        );
    }

    // Every vnode runs exactly once, on the VM the placement in force names.
    let in_force: Placement =
        serde_json::from_str(&std::fs::read_to_string(d.join("state/placement.json")).unwrap()).unwrap();
    for v in &topo.vnodes {
        let cg = names::cgroup_name(&v.id);
        for vm in [&h0, &h1] {
            let procs = lab.ssh(
                vm,
                // Anchored: the keeper and the start shell hold the run text in their arguments.
                &[
                    "sh",
                    "-c",
                    &format!("pgrep -f -- '^[^ ]*/netbalance traffic .*--vnode {} ' | wc -l", v.id),
                ],
            );
            let n: usize = String::from_utf8_lossy(&procs.stdout).trim().parse().unwrap_or(99);
            let here = &in_force.vm_of[&v.id] == vm;
            assert_eq!(
                n,
                usize::from(here),
                "{} on {vm} (placement: {}), {cg}",
                v.id,
                in_force.vm_of[&v.id]
            );
        }
    }
}
