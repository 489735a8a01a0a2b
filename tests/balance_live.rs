//! `netbalance balance` live, end to end: two "VMs" on this machine (each a
//! network namespace with its own sshd, mount namespace and state dir,
//! joined by a bridge), vnodes deployed with `netbalance migrate`; `balance`
//! samples the vnodes' cgroup counters over SSH, re-places with the placer
//! and live-migrates with CRIU, for a bounded time, while the load moves.
//! Two workloads: four vnodes whose software burns a CPU while a flag file
//! says it is hot (the hotspot moves once), and the paper's scenario, a 4×4
//! grid of `netbalance traffic` relays streaming to a sink that moves twice.
//! Checks: a migration follows each move of the load, measured τ is lower
//! after it, and every vnode still runs exactly once, on the VM the
//! placement in force names. The decision logs, tables and plots (Fig. 5
//! style) are kept in `$CARGO_TARGET_TMPDIR/balance_live/` and
//! `…/balance_live_traffic/`.
//!
//! Needs root, CRIU and sshd (like the `testbed_*` tests): under `CI` a
//! missing prerequisite fails the test, elsewhere it is skipped with the reason.

mod testbed_support;

use netbalance::balance::{Decision, LogLine, StopCause, WindowRecord};
use netbalance::model::{Link, Placement, Topology, Vnode};
use netbalance::testbed::names;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testbed_support::*;

/// Runs `netbalance migrate --teardown` (in the work dir, with the test's flags) when dropped.
struct Teardown(PathBuf, Vec<String>);
impl Drop for Teardown {
    fn drop(&mut self) {
        let out = Command::new(assert_cmd::cargo::cargo_bin("netbalance"))
            .current_dir(&self.0)
            .args(&self.1)
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!("teardown: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
    }
}

/// Both tests load this machine's CPUs fully: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A deployed live run: two SSH "VMs", a work dir with topology.json,
/// testbed.json and the state dir, torn down when dropped.
struct Live {
    /// Drops first: the teardown needs the sshds.
    _teardown: Teardown,
    vms: SshVms,
    work: tempfile::TempDir,
    common: Vec<String>,
    ids: Vec<String>,
}

impl Live {
    /// Write the topology and testbed (one VM per host, one CPU each),
    /// deploy `vm_of` (vnode → 0 or 1) with `migrate`.
    fn deploy(vms: SshVms, work: tempfile::TempDir, topo: &Topology, vm_of: impl Fn(usize) -> usize) -> Live {
        let testbed = vms.testbed();
        let mut p0 = Placement::default();
        let ids: Vec<String> = topo.vnodes.iter().map(|v| v.id.clone()).collect();
        for (i, id) in ids.iter().enumerate() {
            p0.vm_of.insert(id.clone(), format!("h{}-v0", vm_of(i)));
        }
        let d = work.path();
        std::fs::write(d.join("topology.json"), serde_json::to_string(topo).unwrap()).unwrap();
        std::fs::write(d.join("testbed.json"), serde_json::to_string(&testbed).unwrap()).unwrap();
        std::fs::write(d.join("p0.json"), serde_json::to_string(&p0).unwrap()).unwrap();
        let common: Vec<String> = [
            "--topology",
            "topology.json",
            "--testbed",
            "testbed.json",
            "--state-dir",
            "sd",
            "--state-root",
            vms.state_root.to_str().unwrap(),
            "--identity",
            vms.sshds[0].user_key.to_str().unwrap(),
            "--known-hosts",
            vms.sshds[0].dir.path().join("known_hosts").to_str().unwrap(),
            "--accept-new",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let deploy = Command::new(netbalance())
            .current_dir(d)
            .args(["migrate", "--target", "p0.json", "--quiet"])
            .args(&common)
            .output()
            .unwrap();
        assert!(
            deploy.status.success(),
            "deploy: {}",
            String::from_utf8_lossy(&deploy.stderr)
        );
        let mut teardown_args = vec!["migrate".to_string(), "--teardown".into(), "--quiet".into()];
        teardown_args.extend(common.iter().cloned());
        Live {
            _teardown: Teardown(d.to_path_buf(), teardown_args),
            vms,
            work,
            common,
            ids,
        }
    }

    /// Run `balance` live (windows of `tp_s`, T_o 0.2 s, 1 s samples) for `duration_s`,
    /// calling each `(at_s, change)` of `changes` on the clock; keep its log,
    /// table and plot in `$CARGO_TARGET_TMPDIR/<name>/`; return its windows.
    fn balance(&self, name: &str, tp_s: f64, duration_s: f64, changes: &[(f64, &dyn Fn())]) -> Vec<WindowRecord> {
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::create_dir_all(&out_dir).unwrap();
        let mut child = ChildGuard(
            Command::new(netbalance())
                .current_dir(self.work.path())
                .args(["balance", "--tp", &tp_s.to_string()])
                .args(["--to", "0.2", "--interval", "1", "--moves", "2000"])
                .args(["--duration", &duration_s.to_string()])
                .args(["--report", out_dir.join("tau.svg").to_str().unwrap()])
                .args(&self.common)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                eprintln!("{line}");
                lines.push(line);
            }
            lines
        });
        let started = Instant::now();
        for (at, change) in changes {
            std::thread::sleep(Duration::from_secs_f64(*at).saturating_sub(started.elapsed()));
            change();
        }
        let limit = Duration::from_secs_f64(duration_s * 2.0 + 60.0);
        let status = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(started.elapsed() < limit, "balance did not end");
            std::thread::sleep(Duration::from_millis(100));
        };
        let lines = reader.join().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        std::fs::write(out_dir.join("decisions.ndjson"), lines.join("\n") + "\n").unwrap();
        std::fs::write(out_dir.join("table.txt"), &stderr).unwrap();
        eprintln!("{stderr}");
        assert!(status.success(), "balance: {status:?}\n{stderr}");
        assert!(out_dir.join("tau.svg").exists());
        let parsed: Vec<LogLine> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let Some((LogLine::Summary(summary), rest)) = parsed.split_last() else {
            panic!("no summary")
        };
        assert_eq!(summary.stopped_by, StopCause::Duration);
        rest.iter()
            .map(|l| {
                if let LogLine::Window(w) = l {
                    w.clone()
                } else {
                    panic!("{l:?}")
                }
            })
            .collect()
    }

    /// No vnode lost: each runs exactly once (one process `is_program` whose
    /// parent is not one), thawed, in its cgroup; its state dir is on the VM
    /// the placement in force names.
    fn check_each_runs_once(&self, is_program: &dyn Fn(&str) -> bool) {
        let d = self.work.path();
        let root = self.vms.root.path();
        let in_force: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("sd/placement.json")).unwrap()).unwrap();
        let vm_of: std::collections::BTreeMap<String, String> =
            serde_json::from_value(in_force["vm_of"].clone()).unwrap();
        assert_eq!(vm_of.len(), self.ids.len());
        for id in &self.ids {
            let cg = names::cgroup_name(id);
            let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs")).unwrap();
            let pids: Vec<&str> = procs.split_whitespace().collect();
            let cmdline = |pid: &str| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ")
            };
            let cmdlines: Vec<String> = pids.iter().map(|p| cmdline(p)).collect();
            // A program's fork (a loop's `sleep`) shows the program's command
            // line until it execs: a copy of the vnode is one whose parent is not.
            let parent = |pid: &str| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|st| {
                        st.rsplit_once(')')
                            .map(|(_, rest)| rest.split_whitespace().nth(1).unwrap_or("").to_string())
                    })
                    .unwrap_or_default()
            };
            let copies = pids
                .iter()
                .filter(|p| is_program(&cmdline(p)) && !is_program(&cmdline(&parent(p))))
                .count();
            assert_eq!(copies, 1, "{id} should run exactly once: {cmdlines:?}");
            let state = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/freezer.state")).unwrap();
            assert_eq!(state.trim(), "THAWED", "{id}");
            let (here, there) = if vm_of[id] == "h0-v0" {
                ("vm0", "vm1")
            } else {
                ("vm1", "vm0")
            };
            let listing = |vm: &str| sh(&["find", root.join(vm).join(&cg).to_str().unwrap()]);
            assert!(
                root.join(here).join(&cg).join("pid").exists(),
                "{id}: no pid file on {here}: {:?}",
                listing(here)
            );
            eprintln!(
                "{id} on {here}; {there} holds: {}",
                String::from_utf8_lossy(&listing(there).stdout)
            );
        }
    }
}

fn netbalance() -> PathBuf {
    assert_cmd::cargo::cargo_bin("netbalance")
}

/// The windows wholly inside `[from, to)` on the run's clock (0.5 s apart
/// from each change: windows straddling one count for neither phase).
fn phase(windows: &[WindowRecord], from: f64, to: f64) -> Vec<&WindowRecord> {
    windows
        .iter()
        .filter(|w| w.t >= from + 0.5 && w.t + w.length_s <= to - 0.5)
        .collect()
}

const PHASE_S: f64 = 12.0;
const DURATION_S: f64 = 27.0;

#[test]
fn live_balance_follows_a_moving_hotspot_over_ssh_with_criu() {
    if !require(SSH_CRIU_TOOLS) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vms = two_ssh_vms(252, "b");
    let tag = vms.tag.clone();
    // Four vnodes: busy while hot, idle otherwise; a0-b0 and a1-b1 linked.
    let work = tempfile::tempdir().unwrap();
    let flags = work.path().join("flags");
    std::fs::create_dir_all(&flags).unwrap();
    let ids: Vec<String> = ["a0", "a1", "b0", "b1"].iter().map(|n| format!("{tag}{n}")).collect();
    let vnodes = ids
        .iter()
        .map(|id| {
            let mut v = Vnode::new(id);
            v.run = Some(format!(
                "exec sh -c 'while :; do if [ -e {f} ]; then :; else sleep 0.2; fi; done'",
                f = flags.join(id).display()
            ));
            v
        })
        .collect();
    let topo = Topology {
        vnodes,
        links: vec![Link::new(&ids[0], &ids[2], 100.0), Link::new(&ids[1], &ids[3], 100.0)],
    };
    let live = Live::deploy(vms, work, &topo, |i| usize::from(i >= 2));
    let hot = |names: &[&str]| {
        for id in &ids {
            let _ = std::fs::remove_file(flags.join(id));
        }
        for n in names {
            std::fs::write(flags.join(format!("{tag}{n}")), "").unwrap();
        }
    };
    // Phase 1: a0 and a1 (both on VM 1) are hot; phase 2: b0 and b1.
    hot(&["a0", "a1"]);
    let windows = live.balance("balance_live", 3.0, DURATION_S, &[(PHASE_S, &|| hot(&["b0", "b1"]))]);
    hot(&[]);
    // Each hotspot is answered by migrations, and by the end of its phase τ is
    // well below the deployed placement's at the same measured load (robust to
    // how busy the machine is).
    for (name, phase) in [
        ("a0/a1", phase(&windows, -0.5, PHASE_S)),
        ("b0/b1", phase(&windows, PHASE_S, f64::INFINITY)),
    ] {
        assert!(
            phase
                .iter()
                .any(|w| w.decision == Decision::Changed && w.t_r_measured.is_some()),
            "hotspot {name}: no migration: {phase:?}"
        );
        let last = phase.last().unwrap();
        assert!(
            last.tau_actual < last.tau_baseline * 0.8,
            "hotspot {name}: τ {} at the end of the phase, {} on the deployed placement",
            last.tau_actual,
            last.tau_baseline
        );
    }
    live.check_each_runs_once(&|cmdline: &str| cmdline.starts_with("sh -c while"));
}

/// The paper's scenario at small scale: a 4×4 grid, every vnode a
/// `netbalance traffic` relay sending TRAFFIC_MBPS towards the sink and
/// spending TRAFFIC_C_PROC CPU-seconds per Mbit it handles (the deployed
/// placement puts about 0.9 CPU on the sink's VM, 0.3 on the other).
const GRID: usize = 4;
const TRAFFIC_MBPS: f64 = 1.5;
const TRAFFIC_C_PROC: f64 = 0.01;
/// Windows of 8 s: a gain of 0.2 in τ pays for three moves (~0.5 s each).
const TRAFFIC_TP_S: f64 = 8.0;

#[test]
fn live_balance_follows_a_moving_sink_of_real_traffic_over_ssh_with_criu() {
    if !require(SSH_CRIU_TOOLS) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vms = two_ssh_vms(251, "s");
    let tag = vms.tag.clone();
    let work = tempfile::tempdir().unwrap();
    let topo = traffic_grid(
        &tag,
        GRID,
        work.path().to_str().unwrap(),
        TRAFFIC_MBPS,
        TRAFFIC_C_PROC,
        2.0,
    );
    let sink = std::cell::RefCell::new(topo.vnodes[0].id.clone());
    let sink_file = work.path().join("sink");
    std::fs::write(&sink_file, format!("{}\n", sink.borrow())).unwrap();
    // Deployed by rows: the top half on VM 0, around the first sink.
    let live = Live::deploy(vms, work, &topo, |i| usize::from(i >= GRID * GRID / 2));
    // The sink moves to where a re-placement would gain most on the placement in force.
    let move_sink = || {
        let read = |f: &str| std::fs::read_to_string(live.work.path().join(f)).unwrap();
        let next = sink_with_most_to_gain(
            &topo,
            &serde_json::from_str(&read("testbed.json")).unwrap(),
            &serde_json::from_str(&read("sd/placement.json")).unwrap(),
            TRAFFIC_MBPS,
            TRAFFIC_C_PROC,
            &sink.borrow(),
        );
        std::fs::write(&sink_file, format!("{next}\n")).unwrap();
        eprintln!("sink moves from {} to {next}", sink.borrow());
        *sink.borrow_mut() = next;
    };
    // Windows start 1 s after balance (its first sample), every T_p. The
    // sink moves half a second before every 4th window: per sink, the first
    // or second window migrates, the next runs after the migration.
    let switch = |k: usize| 1.0 + (4 * k) as f64 * TRAFFIC_TP_S - 0.5;
    let windows = live.balance(
        "balance_live_traffic",
        TRAFFIC_TP_S,
        switch(3) + 0.5,
        &[(switch(1), &move_sink), (switch(2), &move_sink)],
    );
    // Every sink position is answered by a migration, after which measured τ
    // is lower than before it.
    for k in 0..3 {
        let (from, to) = (if k == 0 { 0.0 } else { switch(k) }, switch(k + 1));
        let phase: Vec<&WindowRecord> = windows.iter().filter(|w| w.t >= from && w.t < to).collect();
        // The first migration of the phase (a sample taken after the switch
        // may already show the new sink to the phase's first window).
        let m = phase
            .iter()
            .position(|w| w.decision == Decision::Changed && w.t_r_measured.is_some())
            .unwrap_or_else(|| panic!("sink {k}: no migration: {phase:?}"));
        let after = phase
            .get(m + 1)
            .unwrap_or_else(|| panic!("sink {k}: no window after the migration: {phase:?}"));
        // Before: τ of the placement in force at the load the decision saw
        // (the last sample before it).
        let before = phase[m].tau_now;
        eprintln!(
            "sink {k}: τ {before:.2} before the migration, {:.2} in the window after it",
            after.tau_actual
        );
        assert!(
            after.tau_actual < before * 0.9,
            "sink {k}: τ {} after the migration, {before} before",
            after.tau_actual
        );
    }
    // The program itself, not the start-up processes holding its command line as an argument.
    live.check_each_runs_once(&|cmdline: &str| {
        let argv: Vec<&str> = cmdline.split(' ').collect();
        argv.len() > 1 && argv[0].ends_with("/netbalance") && argv[1] == "traffic"
    });
}
