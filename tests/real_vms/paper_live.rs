//! Issue 13 item 6: the paper's scenario, live, on the lab's Debian VMs.
//!
//! A GRID×GRID grid of vnodes, each running `netbalance traffic` (the
//! provisioned binary, `$NETBALANCE`): every vnode but the sink sends
//! MBPS Mbit/s of UDP towards the sink along the shortest-path tree and
//! relays what it receives, processing each packet (its CPU shows in its
//! cgroup). Deployed with the sink's whole neighbourhood on one VM; the sink
//! then moves twice. `netbalance balance` runs live over SSH: `monitor`
//! samples, the placer re-places, CRIU moves. Checks: a migration follows
//! each sink position, measured τ is lower after it than before, every vnode
//! runs exactly once where the placement says, and the teardown leaves
//! nothing. The decision log, table and τ plot (Fig. 5 style) are kept in
//! `$CARGO_TARGET_TMPDIR/paper_live/`.
//!
//! Under TCG a move takes tens of seconds and one sampling round several:
//! windows are long (T_p 60 s), and each phase lasts until its migration
//! has been followed by a full window.

use super::lab::{self, Lab};
use netbalance::balance::{Decision, LogLine, WindowRecord};
use netbalance::model::{Placement, Topology};
use netbalance::testbed::exec::{Cmd, Executor};
use netbalance::testbed::names;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GRID: usize = 3;
const MBPS: f64 = 1.0;
const C_PROC: f64 = 0.01;
const TP_S: f64 = 60.0;
/// Longest a sink position may wait for its migration and the window after it.
const PHASE_LIMIT: Duration = Duration::from_secs(420);

/// A GRID×GRID grid, vnode `row * GRID + col` named `<tag>n<index>`.
fn grid(tag: &str, dir: &str) -> Topology {
    let mut topo = netbalance::topology::generate::grid(GRID, GRID);
    let id = |old: &str| format!("{tag}{old}");
    for v in &mut topo.vnodes {
        v.id = id(&v.id);
        v.run = Some(format!(
            "exec \"$NETBALANCE\" traffic --topology {dir}/topology.json --vnode {me} --sink-file {dir}/sink --mbps {MBPS} --c-proc {C_PROC} --report-s 10",
            me = v.id
        ));
    }
    for l in &mut topo.links {
        (l.a, l.b) = (id(&l.a), id(&l.b));
    }
    topo
}

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

#[test]
fn balance_follows_the_moving_sink_of_real_traffic_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].clone(), lab.vms[1].clone());
    let tag = crate::testbed_support::tag();
    let vm_dir = format!("/var/lib/netbalance-traffic/{tag}");
    let topo = grid(&tag, &vm_dir);
    let topo_json = serde_json::to_string(&topo).unwrap();
    let set_sink = |r: usize, c: usize| {
        for vm in [&h0, &h1] {
            put(lab, vm, &format!("{vm_dir}/sink"), &format!("{tag}n{}\n", r * GRID + c));
        }
        eprintln!("sink now at row {r}, column {c}");
    };
    for vm in [&h0, &h1] {
        put(lab, vm, &format!("{vm_dir}/topology.json"), &topo_json);
    }
    set_sink(0, 0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topo.json"), &topo_json).unwrap();
    // The sink's corner on h0: the first two rows there, the last on h1.
    let mut p0 = Placement::default();
    for (i, v) in topo.vnodes.iter().enumerate() {
        p0.vm_of
            .insert(v.id.clone(), if i < 2 * GRID { h0.clone() } else { h1.clone() });
    }
    std::fs::write(d.join("p0.json"), serde_json::to_string(&p0).unwrap()).unwrap();
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
        "5",
        "--interval",
        "10",
        "--moves",
        "2000",
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
    let mut report = Vec::new();
    for (k, sink) in [None, Some((GRID - 1, GRID - 1)), Some((0, GRID - 1))]
        .into_iter()
        .enumerate()
    {
        if let Some((r, c)) = sink {
            set_sink(r, c);
        }
        let from = windows.lock().unwrap().len();
        let started = Instant::now();
        let (before, after) = loop {
            assert!(
                started.elapsed() < PHASE_LIMIT,
                "sink {k}: no migration followed by a window within {PHASE_LIMIT:?}: {:?}",
                &windows.lock().unwrap()[from..]
            );
            assert!(child.0.try_wait().unwrap().is_none(), "balance ended early");
            std::thread::sleep(Duration::from_secs(2));
            let ws = windows.lock().unwrap();
            let phase = &ws[from..];
            // The first window of a phase started under the old sink.
            let Some(m) = phase
                .iter()
                .skip(1)
                .position(|w| w.decision == Decision::Changed && w.t_r_measured.is_some())
            else {
                continue;
            };
            let m = m + 1;
            if let Some(next) = phase.get(m + 1) {
                break (phase[m - 1].tau_actual, next.tau_actual);
            }
        };
        eprintln!("sink {k}: τ {before:.2} measured before its migration, {after:.2} in the window after");
        report.push((before, after));
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
    for (k, (before, after)) in report.iter().enumerate() {
        assert!(
            after < before,
            "sink {k}: τ {after} after the migration, {before} before"
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
