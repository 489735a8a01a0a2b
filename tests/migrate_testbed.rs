//! The migration engine with the real driver on local VMs (root, CRIU):
//! `migrate` deploys, live-migrates vnodes whose processes keep their pid
//! and keep counting, and tears everything down; a restore that fails on
//! the destination puts the vnode back on its source (exit 3 semantics).
//! Skipped (with a message) without root or the tools, as the testbed tests.

mod testbed_support;

use netbalance::inputs::Problem;
use netbalance::migrate::testbed_driver::TestbedDriver;
use netbalance::migrate::{Job, StepBar};
use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::{names, Fleet, Layout, Paths, SshOptions, VmHandle};
use std::path::Path;
use std::time::{Duration, Instant};
use testbed_support::*;

const TOOLS: &[&str] = &["ip", "tc", "nsenter", "setsid", "criu", "nft"];

/// A shell that counts into file `f` every 20 ms (write, then rename).
fn counter(f: &Path) -> String {
    format!(
        "exec sh -c 'i=0; while :; do i=$((i+1)); echo $i > {}.t; mv {}.t {}; sleep 0.02; done'",
        f.display(),
        f.display(),
        f.display()
    )
}

/// A ring of 4 vnodes; the first two count into a file every 20 ms.
fn topology(tag: &str, dir: &Path) -> Topology {
    let ids: Vec<String> = (0..4).map(|i| format!("{tag}m{i}")).collect();
    let mut topo = Topology::default();
    for (i, id) in ids.iter().enumerate() {
        let mut v = Vnode::new(id);
        if i < 2 {
            let f = dir.join(format!("count{i}"));
            v.run = Some(counter(&f));
        }
        topo.vnodes.push(v);
    }
    for i in 0..4 {
        topo.links.push(Link::new(&ids[i], &ids[(i + 1) % 4], 100.0));
    }
    topo
}

fn placement(topo: &Topology, vms: [&str; 4]) -> Placement {
    Placement {
        vm_of: topo
            .vnodes
            .iter()
            .zip(vms)
            .map(|(v, vm)| (v.id.clone(), vm.to_string()))
            .collect(),
        ..Placement::default()
    }
}

fn count(dir: &Path, i: usize) -> u64 {
    std::fs::read_to_string(dir.join(format!("count{i}")))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Wait until counter `i` passes `beyond`.
fn counting(dir: &Path, i: usize, beyond: u64) -> u64 {
    let t0 = Instant::now();
    loop {
        let n = count(dir, i);
        if n > beyond {
            return n;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "counter {i} stuck at {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The vnode's root pid on this machine (its pid file); checked to be pid 1
/// of its own pid namespace (a restore may give it another pid here).
fn pid_of(paths: &Paths, vnode: &str) -> u32 {
    let pid = vnode_pid(&paths.state_root, vnode);
    assert_eq!(nspid(pid), [pid, 1], "{vnode} is pid 1 of its pid namespace");
    pid
}

fn netns_of(pid: u32) -> String {
    sh_ok(&["ip", "netns", "identify", &pid.to_string()]).trim().to_string()
}

/// Removes whatever the test left, under every placement it used.
struct Cleanup {
    testbed: Testbed,
    layout: Layout,
    paths: Paths,
    placements: Vec<Placement>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.placements {
            let mut fleet = Fleet::new(&self.testbed, SshOptions::new("/dev/null"), self.paths.clone());
            let _ = netbalance::testbed::teardown(&mut fleet, &self.layout, p);
        }
    }
}

/// Nothing of the vnodes left: namespaces, cgroups, state dirs.
fn assert_clean(topo: &Topology, paths: &Paths) {
    let netns = sh_ok(&["ip", "netns", "list"]);
    for v in &topo.vnodes {
        let cg = names::cgroup_name(&v.id);
        assert!(!netns.contains(&cg), "namespace of {} left: {netns}", v.id);
        assert!(
            !Path::new("/sys/fs/cgroup/freezer").join(&cg).exists(),
            "cgroup of {} left",
            v.id
        );
        assert!(!paths.vnode_dir(&cg).exists(), "state dir of {} left", v.id);
    }
}

/// Write `testbed.json`, `topo.json` and each named placement (recording
/// `topo.json`) into `d`, as `netbalance migrate` finds its inputs there.
fn write_inputs(d: &Path, testbed: &Testbed, topo: &Topology, placements: &[(&str, &Placement)]) {
    std::fs::write(d.join("testbed.json"), serde_json::to_vec(testbed).unwrap()).unwrap();
    std::fs::write(d.join("topo.json"), serde_json::to_vec(topo).unwrap()).unwrap();
    for (name, p) in placements {
        let p = Placement {
            topology: Some("topo.json".into()),
            ..(*p).clone()
        };
        std::fs::write(d.join(name), serde_json::to_vec(&p).unwrap()).unwrap();
    }
}

/// `netbalance migrate ARGS` in `d` with the real driver; asserts success
/// and returns the placement it printed.
/// The ring of [`topology`] for `netbalance migrate` runs in `d`: p1 and p2
/// (every vnode moves) written beside the testbed and topology, the state
/// under `d/vnodes`, and a guard that tears down under either placement.
struct RingRun {
    topo: Topology,
    p1: Placement,
    p2: Placement,
    state_root: std::path::PathBuf,
    paths: Paths,
    _cleanup: Cleanup,
}

fn ring_run(d: &Path) -> RingRun {
    let topo = topology(&tag(), d);
    let testbed = Testbed::generate(1, 3, 10_000.0);
    let p1 = placement(&topo, ["h0-v0", "h0-v1", "h0-v2", "h0-v0"]);
    let p2 = placement(&topo, ["h0-v1", "h0-v2", "h0-v0", "h0-v1"]);
    let state_root = d.join("vnodes");
    let paths = Paths {
        state_root: state_root.clone(),
        criu: which("criu").unwrap().display().to_string(),
        ..Paths::default()
    };
    let _cleanup = Cleanup {
        testbed: testbed.clone(),
        layout: Layout::new(&topo).unwrap(),
        paths: paths.clone(),
        placements: vec![p1.clone(), p2.clone()],
    };
    write_inputs(d, &testbed, &topo, &[("p1.json", &p1), ("p2.json", &p2)]);
    RingRun {
        topo,
        p1,
        p2,
        state_root,
        paths,
        _cleanup,
    }
}

fn migrate_cli(d: &Path, state_root: &Path, args: &[&str]) -> Placement {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .current_dir(d)
        .env_remove("NETBALANCE_TEST_DRIVER")
        .args(["migrate", "-q", "--state-root", state_root.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Placement>(&out.stdout).unwrap()
}

#[test]
fn migrate_on_local_vms_keeps_pids_and_counters_then_tears_down() {
    if !require(TOOLS) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let RingRun {
        topo,
        p1,
        p2,
        state_root,
        paths,
        _cleanup,
    } = ring_run(d);
    let migrate = |args: &[&str]| migrate_cli(d, &state_root, args);
    assert_eq!(migrate(&["--target", "p1.json"]).vm_of, p1.vm_of);
    let ids: Vec<&str> = topo.vnodes.iter().map(|v| v.id.as_str()).collect();
    let before = [counting(d, 0, 5), counting(d, 1, 5)];
    let t0 = Instant::now();
    assert_eq!(migrate(&["--target", "p2.json"]).vm_of, p2.vm_of);
    eprintln!(
        "4 moves on local VMs (2 with CRIU): {:.2} s wall",
        t0.elapsed().as_secs_f64()
    );
    for i in 0..2 {
        assert_eq!(
            netns_of(pid_of(&paths, ids[i])),
            names::netns_name(ids[i], &p2.vm_of[ids[i]]),
            "{} runs in its new namespace",
            ids[i]
        );
        counting(d, i, before[i] + 10);
    }
    // Links follow: the moved vnodes' ends are in their new namespaces.
    let ns0 = names::netns_name(ids[0], &p2.vm_of[ids[0]]);
    let links = sh_ok(&["ip", "-n", &ns0, "-o", "link"]);
    assert!(links.contains("eth0") && links.contains("eth1"), "{links}");
    assert!(migrate(&["--teardown"]).vm_of.is_empty());
    assert_clean(&topo, &paths);
}

#[test]
fn a_migrate_killed_midway_is_resumed_on_the_real_testbed() {
    killed_midway("--resume");
}

#[test]
fn a_migrate_killed_midway_is_rolled_back_on_the_real_testbed() {
    killed_midway("--rollback");
}

/// Every phase the real driver's crash hook (`NETBALANCE_TEST_CRASH`) can
/// kill a migrate at; each is taken up with `--rollback` and with `--resume`.
const CRASH_PHASES: &[&str] = &["suspended", "in-dump", "dumped", "in-restore", "restored", "reattached"];

#[test]
fn a_migrate_killed_at_every_phase_is_rolled_back_on_the_real_testbed() {
    for phase in CRASH_PHASES {
        eprintln!("killed at {phase}, --rollback");
        killed_at("--rollback", Some(phase));
    }
}

#[test]
fn a_migrate_killed_at_every_phase_is_resumed_on_the_real_testbed() {
    for phase in CRASH_PHASES {
        eprintln!("killed at {phase}, --resume");
        killed_at("--resume", Some(phase));
    }
}

/// The same with post-copy moves: a kill after the source's dump leaves a
/// page server that nobody connects to and the dumped tasks frozen; both
/// directions bring the vnode back from them.
#[test]
fn a_post_copy_migrate_killed_at_every_phase_is_taken_up_on_the_real_testbed() {
    if !post_copy_here() {
        return;
    }
    for phase in CRASH_PHASES {
        for flag in ["--rollback", "--resume"] {
            eprintln!("post-copy, killed at {phase}, {flag}");
            killed_in_mode(flag, Some(phase), "post-copy");
        }
    }
}

/// True if criu can move post-copy on this machine (else says why not).
fn post_copy_here() -> bool {
    let check = sh(&["criu", "check", "--feature", "uffd-noncoop"]);
    if !String::from_utf8_lossy(&check.stdout).contains("is supported") {
        eprintln!("skipped: criu check --feature uffd-noncoop: not supported here");
        return false;
    }
    true
}

/// Deploy p1, kill a migrate to p2 midway, take it up with `flag`.
fn killed_midway(flag: &str) {
    killed_at(flag, None)
}

fn killed_at(flag: &str, phase: Option<&str>) {
    killed_in_mode(flag, phase, "stop-copy")
}

/// Deploy p1, kill a migrate to p2 (after 1.6 s, or at `phase` by the
/// driver's crash hook, when the run is then unfinished for sure) that
/// moves in `mode`, take it up with `flag`; every vnode then runs once,
/// thawed, where the state dir says.
fn killed_in_mode(flag: &str, phase: Option<&str>, mode: &str) {
    if !require(TOOLS) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let RingRun {
        topo,
        p1,
        p2,
        state_root,
        paths,
        _cleanup,
    } = ring_run(d);
    let migrate = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"));
        c.current_dir(d)
            .env_remove("NETBALANCE_TEST_DRIVER")
            .args(["migrate", "-q", "--state-root", state_root.to_str().unwrap()])
            .args(["--migration", mode])
            .args(args);
        c
    };
    assert!(migrate(&["--target", "p1.json"]).output().unwrap().status.success());
    counting(d, 0, 5);
    // Killed in the middle of the moves (the first dump waits ~1.4 s for
    // its tasks to be reaped, so 1.6 s lands inside the run).
    let mut run = migrate(&["--target", "p2.json"]);
    if let Some(phase) = phase {
        run.env("NETBALANCE_TEST_CRASH", phase);
    }
    let mut child = run.stdout(std::process::Stdio::null()).spawn().unwrap();
    if phase.is_none() {
        std::thread::sleep(Duration::from_millis(1600));
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    if phase.is_some() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the crash hook did not kill the run at {phase:?}: {status}"
        );
    }
    let out = migrate(&[flag]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(phase.is_none(), "{flag} after a kill at {phase:?} failed: {err}");
        assert!(err.contains("no unfinished run"), "{flag} failed: {err}");
        eprintln!("the run had finished before the kill");
    }
    let state = StateDir::at(d.join(".netbalance"));
    let now = state.placement().unwrap().unwrap();
    let finished_first = !out.status.success();
    let want = if flag == "--resume" || finished_first { &p2 } else { &p1 };
    assert_eq!(now.vm_of, want.vm_of, "{err}");
    assert!(state.journal().unwrap().unfinished().is_none());
    let ids: Vec<&str> = topo.vnodes.iter().map(|v| v.id.as_str()).collect();
    for (i, id) in ids.iter().take(2).enumerate() {
        let pid = pid_of(&paths, id);
        assert_eq!(netns_of(pid), names::netns_name(id, &want.vm_of[*id]));
        let c = count(d, i);
        counting(d, i, c + 5);
    }
    assert!(migrate(&["--teardown"]).output().unwrap().status.success());
    assert_clean(&topo, &paths);
    let yards = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!yards.contains(d.to_str().unwrap()), "mounts left under the test dir");
}

/// `netbalance migrate` moves a TCP client vnode back and forth between two
/// VMs (5 moves) while it talks to a server vnode on a third: the one
/// connection survives every move (no reset: the destination namespace
/// holds incoming packets until the restore is done) and the counter goes on.
#[test]
fn migrate_keeps_an_established_tcp_connection_over_five_moves() {
    tcp_connection_over_five_moves("stop-copy");
}

/// The same with post-copy moves (CRIU lazy pages): the connection and the
/// count survive, and the client runs in its new namespace after each move.
#[test]
fn post_copy_keeps_an_established_tcp_connection_over_five_moves() {
    if !post_copy_here() {
        return;
    }
    tcp_connection_over_five_moves("post-copy");
}

fn tcp_connection_over_five_moves(mode: &str) {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft", "/usr/bin/python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (srv, cli, prog) = (d.join("server.py"), d.join("client.py"), d.join("progress"));
    std::fs::write(&srv, ECHO_SERVER).unwrap();
    std::fs::write(&cli, counting_client()).unwrap();
    let tag = tag();
    let (c, s) = (format!("{tag}tc"), format!("{tag}ts"));
    let mut cv = Vnode::new(&c);
    // The link's first address (10.64.0.1) is the client's end, the second the server's.
    cv.run = Some(format!(
        "exec /usr/bin/python3 {} 10.64.0.2 7000 {}",
        cli.display(),
        prog.display()
    ));
    let mut sv = Vnode::new(&s);
    sv.run = Some(format!("exec /usr/bin/python3 {} 10.64.0.2 7000", srv.display()));
    let topo = Topology {
        vnodes: vec![cv, sv],
        links: vec![Link::new(&c, &s, 100.0)],
    };
    let testbed = Testbed::generate(1, 3, 10_000.0);
    let at = |vm: &str| Placement {
        vm_of: [(c.clone(), vm.to_string()), (s.clone(), "h0-v1".to_string())].into(),
        ..Placement::default()
    };
    let (pa, pb) = (at("h0-v0"), at("h0-v2"));
    let state_root = d.join("vnodes");
    let paths = Paths {
        state_root: state_root.clone(),
        criu: which("criu").unwrap().display().to_string(),
        ..Paths::default()
    };
    let _cleanup = Cleanup {
        testbed: testbed.clone(),
        layout: Layout::new(&topo).unwrap(),
        paths: paths.clone(),
        placements: vec![pa.clone(), pb.clone()],
    };
    write_inputs(d, &testbed, &topo, &[("pa.json", &pa), ("pb.json", &pb)]);
    let migrate = |args: &[&str]| migrate_cli(d, &state_root, &[args, &["--migration", mode]].concat());
    assert_eq!(migrate(&["--target", "pa.json"]).vm_of, pa.vm_of);
    wait_client(&prog, 3, Duration::from_secs(10));
    let mut walls = Vec::new();
    for (i, (file, want)) in [("pb.json", &pb), ("pa.json", &pa)].iter().cycle().take(5).enumerate() {
        let before = client_progress(&prog).0;
        let t0 = Instant::now();
        assert_eq!(migrate(&["--target", file]).vm_of, want.vm_of, "move {i}");
        walls.push(t0.elapsed().as_secs_f64());
        assert_eq!(
            netns_of(pid_of(&paths, &c)),
            names::netns_name(&c, &want.vm_of[&c]),
            "move {i}: runs in its new namespace"
        );
        wait_client(&prog, before + 5, Duration::from_secs(10));
    }
    let walls: Vec<String> = walls.iter().map(|w| format!("{w:.2}")).collect();
    eprintln!(
        "5 {mode} moves of a TCP client through `netbalance migrate`, wall per call (s): {}",
        walls.join(" ")
    );
    // A sixth move under -v: one line per move with what it measured.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .current_dir(d)
        .env_remove("NETBALANCE_TEST_DRIVER")
        .args(["migrate", "-v", "--state-root", state_root.to_str().unwrap()])
        .args(["--target", "pa.json", "--migration", mode])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("netbalance: moved {c} h0-v2 -> h0-v0: pause ")))
        .unwrap_or_else(|| panic!("no line for the move: {err}"));
    eprintln!("{line}");
    if mode == "post-copy" {
        assert!(line.contains(" on demand (fault fraction 0."), "{line}");
    } else {
        assert!(!line.contains("on demand"), "{line}");
    }
    assert!(migrate(&["--teardown"]).vm_of.is_empty());
    assert_clean(&topo, &paths);
}

/// A fault in the restore step on the destination, and how it is injected.
#[derive(Clone, Copy, PartialEq)]
enum RestoreFault {
    /// `criu restore` itself fails, the first time (as on a full disk).
    Criu,
    /// Releasing the hold fails after a successful `criu restore`: the tree
    /// restored there must be stopped again.
    HoldRelease,
}

#[test]
fn a_failed_restore_on_the_destination_puts_the_vnode_back() {
    restore_fault_puts_the_vnode_back(RestoreFault::Criu);
}

#[test]
fn a_failure_after_the_restore_puts_the_vnode_back_once() {
    restore_fault_puts_the_vnode_back(RestoreFault::HoldRelease);
}

/// Through the engine and the real driver, the move of a counting vnode
/// h0-v0 -> h0-v2 fails in its restore step: the engine restores it at its
/// source from the same images — once, with its pid, in its old VM's
/// namespace, counting — and reports exit 3.
fn restore_fault_puts_the_vnode_back(fault: RestoreFault) {
    if !require(TOOLS) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let topo = topology(&tag(), d);
    let testbed = Testbed::generate(1, 3, 10_000.0);
    let p1 = placement(&topo, ["h0-v0", "h0-v1", "h0-v2", "h0-v0"]);
    let mut p2 = p1.clone();
    let id = topo.vnodes[0].id.as_str();
    p2.vm_of.insert(id.to_string(), "h0-v2".into());
    let mut criu = which("criu").unwrap();
    if fault == RestoreFault::Criu {
        // criu whose first restore fails, then the real one.
        let real = std::mem::replace(&mut criu, d.join("criu"));
        std::fs::write(&criu, format!("#!/bin/sh\nif [ \"$1\" = restore ] && [ ! -e {0}/failed ]; then touch {0}/failed; echo injected >&2; exit 1; fi\nexec {1} \"$@\"\n", d.display(), real.display())).unwrap();
        sh_ok(&["chmod", "+x", criu.to_str().unwrap()]);
    }
    let paths = Paths {
        state_root: d.join("vnodes"),
        criu: criu.display().to_string(),
        keeper: keeper(),
        ..Paths::default()
    };
    let _cleanup = Cleanup {
        testbed: testbed.clone(),
        layout: Layout::new(&topo).unwrap(),
        paths: paths.clone(),
        placements: vec![p1.clone(), p2.clone()],
    };
    write_inputs(d, &testbed, &topo, &[]);
    let problem = Problem::resolve(Some(&d.join("topo.json")), Some(&d.join("testbed.json")), None, None).unwrap();
    let state = StateDir::open(d.join("state")).unwrap();
    let lock = state.lock().unwrap();
    let progress = StepBar::hidden();
    let (a1, a2) = (
        problem.assignment(&p1, "p1").unwrap(),
        problem.assignment(&p2, "p2").unwrap(),
    );
    let driver = |current: Option<&Placement>, faulty: bool| {
        let mut fleet = Fleet::new(&testbed, SshOptions::new("/dev/null"), paths.clone());
        if faulty && fault == RestoreFault::HoldRelease {
            fleet.insert(
                "h0-v2",
                VmHandle {
                    exec: Box::new(FailingOn(&["nsenter", "ip", "-batch"])), // release_hold
                    underlay: None,
                },
            );
        }
        TestbedDriver::new(fleet, &topo, current).unwrap()
    };
    let (deployer, mover, remover) = (driver(None, false), driver(Some(&p1), true), driver(Some(&p1), false));
    let job = |driver| Job {
        problem: &problem,
        driver,
        state: &state,
        lock: &lock,
        progress: &progress,
    };
    assert!(job(&deployer).apply(None, &a1).unwrap().complete);
    pid_of(&paths, id);
    let before = counting(d, 0, 5);
    let applied = job(&mover).apply(Some(&a1), &a2).unwrap();
    assert!(!applied.complete, "the injected failure was seen");
    if fault == RestoreFault::Criu {
        assert!(d.join("failed").exists());
    } else {
        let f = applied.failures.join("; ");
        assert!(f.contains("releasing the hold"), "{f}");
    }
    assert_eq!(applied.placement.as_ref().unwrap().vm_of, p1.vm_of);
    assert_eq!(state.placement().unwrap().unwrap().vm_of, p1.vm_of);
    assert_eq!(applied.into_result(&state).unwrap_err().exit_code(), 3);
    let pid = pid_of(&paths, id); // restored on its source, pid 1 of its namespace
    let ns = names::netns_name(id, "h0-v0");
    assert_eq!(netns_of(pid), ns);
    assert!(
        !Path::new(&format!("/run/netns/{}", names::netns_name(id, "h0-v2"))).exists(),
        "destination namespace left"
    );
    // Once: no task of the vnode runs anywhere but in its source namespace.
    let procs = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/freezer/{}/cgroup.procs",
        names::cgroup_name(id)
    ))
    .unwrap();
    for p in procs.split_whitespace() {
        let out = sh(&["ip", "netns", "identify", p]);
        if !out.status.success() {
            continue; // a short-lived child (sleep, mv) that ended meanwhile
        }
        let in_ns = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(in_ns.is_empty() || in_ns == ns, "task {p} of {id} runs in {in_ns:?}");
    }
    counting(d, 0, before + 10);
    job(&remover).teardown(&a1).unwrap();
    assert_clean(&topo, &paths);
}

/// The records of the last run in the state dir's journal: (ms since the
/// epoch, step, vnode or VM).
fn journal_times(d: &Path) -> Vec<(u64, String, String)> {
    let text = std::fs::read_to_string(d.join(".netbalance/journal.ndjson")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let rec = &v["rec"];
            let who = rec["vnode"].as_str().or(rec["vm"].as_str()).unwrap_or("").to_string();
            (
                v["t_ms"].as_u64().unwrap(),
                rec["step"].as_str().unwrap().to_string(),
                who,
            )
        })
        .collect()
}

/// The moves of the last run, as the journal timed them: from the last
/// `suspended` record (the moves start then) to the last `reattached` (s).
fn moves_window(d: &Path) -> f64 {
    let recs = journal_times(d);
    let last = |step: &str| {
        recs.iter()
            .filter(|r| r.1 == step)
            .map(|r| r.0)
            .max()
            .unwrap_or_else(|| panic!("no {step} record: {recs:?}"))
    };
    let t = (last("reattached") - last("suspended")) as f64 / 1e3;
    if t > 5.0 {
        eprintln!(
            "slow moves ({t:.3} s): {recs:?}; criu calls: {}",
            std::fs::read_to_string(d.join("criu.log")).unwrap_or_default()
        );
    }
    t
}

/// Two counting vnodes `a`, `b` (ids[0], ids[1]) on h0-v0 and h0-v2, each
/// linked to a vnode that stays on h0-v1 / h0-v3 (`pa`, `pb`), deployed by
/// `migrate`; a `criu` wrapper first in `$PATH` logs "START END STATUS
/// ARGS…" of every call, and with `fail_restores` makes each vnode's first
/// `criu restore` fail after 0.2 s.
struct Pair {
    _cleanup: Cleanup,
    topo: Topology,
    ids: Vec<String>,
    cgroups: Vec<String>,
    /// a, b on their sources; both on their destinations; only b there.
    out: Placement,
    into: Placement,
    a_out: Placement,
    bin: std::path::PathBuf,
    log: std::path::PathBuf,
    paths: Paths,
    tmp: tempfile::TempDir,
}

impl Pair {
    fn new(fail_restores: bool) -> Pair {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let tag = tag();
        let ids: Vec<String> = ["a", "b", "pa", "pb"].iter().map(|s| format!("{tag}{s}")).collect();
        let mut topo = Topology::default();
        for (i, id) in ids.iter().enumerate() {
            let mut v = Vnode::new(id);
            if i < 2 {
                let f = d.join(format!("count{i}"));
                v.run = Some(counter(&f));
            }
            topo.vnodes.push(v);
        }
        topo.links = vec![Link::new(&ids[0], &ids[2], 100.0), Link::new(&ids[1], &ids[3], 100.0)];
        let testbed = Testbed::generate(1, 4, 10_000.0);
        let out = placement(&topo, ["h0-v0", "h0-v2", "h0-v1", "h0-v3"]);
        let into = placement(&topo, ["h0-v1", "h0-v3", "h0-v1", "h0-v3"]);
        let a_out = placement(&topo, ["h0-v0", "h0-v3", "h0-v1", "h0-v3"]);
        let real = which("criu").unwrap();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = d.join("criu.log");
        // A marker per images dir ($3 of `restore -D DIR`): its first restore fails.
        let fail = if fail_restores {
            format!("if [ \"$1\" = restore ] && [ ! -e \"$3.failed\" ]; then touch \"$3.failed\"; sleep 0.2; echo \"$s $(date +%s.%N) 1 $*\" >> {}; echo injected >&2; exit 1; fi\n", log.display())
        } else {
            String::new()
        };
        let script = format!(
            "#!/bin/sh\ns=$(date +%s.%N)\n{fail}{} \"$@\"\nrc=$?\necho \"$s $(date +%s.%N) $rc $*\" >> {}\nexit $rc\n",
            real.display(),
            log.display()
        );
        std::fs::write(bin.join("criu"), script).unwrap();
        sh_ok(&["chmod", "+x", bin.join("criu").to_str().unwrap()]);
        let paths = Paths {
            state_root: d.join("vnodes"),
            ..Paths::default()
        };
        let placements = vec![out.clone(), into.clone(), a_out.clone()];
        let _cleanup = Cleanup {
            testbed: testbed.clone(),
            layout: Layout::new(&topo).unwrap(),
            paths: paths.clone(),
            placements,
        };
        write_inputs(
            d,
            &testbed,
            &topo,
            &[("out.json", &out), ("in.json", &into), ("a_out.json", &a_out)],
        );
        let cgroups = ids[..2].iter().map(|id| names::cgroup_name(id)).collect();
        let pair = Pair {
            _cleanup,
            topo,
            ids,
            cgroups,
            out,
            into,
            a_out,
            bin,
            log,
            paths,
            tmp,
        };
        assert_eq!(pair.migrate(&["--target", "out.json"]).status.code(), Some(0));
        pair
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `netbalance migrate ARGS` with the wrapper; its output.
    fn migrate(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
            .env(
                "PATH",
                format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()),
            )
            .current_dir(self.dir())
            .env_remove("NETBALANCE_TEST_DRIVER")
            .args(["migrate", "-q", "--state-root", self.paths.state_root.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    }

    /// [`Pair::migrate`] to `target`, which must succeed and be reached.
    fn reach(&self, file: &str, target: &Placement) {
        let out = self.migrate(&["--target", file]);
        assert!(
            out.status.success(),
            "migrate to {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            serde_json::from_slice::<Placement>(&out.stdout).unwrap().vm_of,
            target.vm_of
        );
    }

    /// The first logged criu `op` ("dump", "restore") of vnode `i` that
    /// exited with `status` ("0", "1"; "*": any): (start, end).
    fn call(&self, i: usize, op: &str, status: &str) -> (f64, f64) {
        let calls = criu_calls(&self.log, &self.cgroups);
        calls
            .iter()
            .find(|c| c.2 == self.cgroups[i] && c.3 == op && (status == "*" || c.4 == status))
            .map(|c| (c.0, c.1))
            .unwrap_or_else(|| panic!("no {op} of {} with status {status}: {calls:?}", self.ids[i]))
    }

    /// Vnodes a and b run, each pid 1 of its pid namespace, in their
    /// namespaces under `p` and go on counting past `before`.
    fn running(&self, p: &Placement, before: [u64; 2]) {
        for (i, (id, b)) in self.ids.iter().zip(before).enumerate() {
            assert_eq!(netns_of(pid_of(&self.paths, id)), names::netns_name(id, &p.vm_of[id]));
            counting(self.dir(), i, b + 5);
        }
    }
}

/// `criu` calls logged by [`Pair`]'s wrapper: (start, end, the vnode's
/// cgroup name found in the arguments, subcommand, exit status).
fn criu_calls(log: &Path, cgroups: &[String]) -> Vec<(f64, f64, String, String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let cg = cgroups.iter().find(|c| l.contains(c.as_str()))?;
            Some((
                f[0].parse().ok()?,
                f[1].parse().ok()?,
                cg.clone(),
                f[3].to_string(),
                f[2].to_string(),
            ))
        })
        .collect()
}

fn overlap(x: (f64, f64), y: (f64, f64)) -> bool {
    x.0 < y.1 && y.0 < x.1
}

/// Two counting vnodes move between disjoint VM pairs in one `migrate` run
/// (h0-v0 -> h0-v1 and h0-v2 -> h0-v3), each linked to a vnode that stays
/// on its destination: their `criu dump`s and `criu restore`s overlap in
/// time, the moves take clearly less than the same two moves one per run
/// (moves timed by the journal: last `suspended` to last `reattached`;
/// medians of 3 rounds),
/// and both processes keep their pid and go on counting.
#[test]
fn moves_on_disjoint_vms_run_in_parallel() {
    if !require(TOOLS) {
        return;
    }
    let pair = Pair::new(false);
    let d = pair.dir();
    let (mut par, mut ser) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let before = [counting(d, 0, 5), counting(d, 1, 5)];
        // Both move, in one run.
        let _ = std::fs::remove_file(&pair.log);
        pair.reach("in.json", &pair.into);
        par.push(moves_window(d));
        pair.running(&pair.into, before);
        // Both first dumps start as the moves do, so they overlap (criu
        // sometimes fails a dump after 10 s, a task unseizable in state D,
        // and the driver dumps again); the restores (~50 ms each)
        // overlap when the two moves stay in step.
        for op in ["dump", "restore"] {
            let status = if op == "dump" { "*" } else { "0" };
            let (x, y) = (pair.call(0, op, status), pair.call(1, op, status));
            eprintln!(
                "round {round}: criu {op}s: {:.3}-{:.3} s and {:.3}-{:.3} s",
                0.0,
                x.1 - x.0,
                y.0 - x.0,
                y.1 - x.0
            );
            if op == "dump" {
                assert!(
                    overlap(x, y),
                    "round {round}: the two criu dumps did not overlap: {x:?} {y:?}"
                );
            }
        }
        // The same two moves back, one per run.
        pair.reach("a_out.json", &pair.a_out);
        let t_a = moves_window(d);
        pair.reach("out.json", &pair.out);
        ser.push(t_a + moves_window(d));
        pair.running(&pair.out, before);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "2 moves on disjoint VMs: {par:.3?} s in one run vs {ser:.3?} s one per run (load {})",
        load.trim()
    );
    // Medians, so that one slow round on this shared machine does not decide.
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, s) = (median(&mut par), median(&mut ser));
    eprintln!("medians: {p:.3} s in one run, {s:.3} s one per run");
    assert!(
        p < 0.8 * s,
        "median in one run {p:.3} s, one per run {s:.3} s: not parallel"
    );
    assert!(pair.migrate(&["--teardown"]).status.success());
    assert_clean(&pair.topo, &pair.paths);
}

/// Both parallel moves fail in their restore on the destination, at the
/// same time (each vnode's first `criu restore` fails after 0.2 s): the run
/// ends with exit 3, both vnodes back on their sources, once, with their
/// pids, counting; nothing left on the destinations.
#[test]
fn concurrent_failures_of_parallel_moves_lose_nothing() {
    if !require(TOOLS) {
        return;
    }
    let pair = Pair::new(true);
    let d = pair.dir();
    let before = [counting(d, 0, 5), counting(d, 1, 5)];
    let out = pair.migrate(&["--target", "in.json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        serde_json::from_slice::<Placement>(&out.stdout).unwrap().vm_of,
        pair.out.vm_of,
        "{err}"
    );
    let (x, y) = (pair.call(0, "restore", "1"), pair.call(1, "restore", "1"));
    // The restores start when the dumps end; a dump criu stalls on (its 10 s
    // timeout on a task it cannot seize, docs/migrate.md) ends later, and
    // then its restore is expected later too.
    let (dx, dy) = (pair.call(0, "dump", "0"), pair.call(1, "dump", "0"));
    if (dx.1 - dy.1).abs() < 0.15 {
        assert!(
            overlap(x, y),
            "the two failing restores did not overlap: {x:?} {y:?} (dumps {dx:?} {dy:?})"
        );
    } else {
        eprintln!(
            "dumps ended {:.3} s apart (a stalled dump): restores not compared",
            (dx.1 - dy.1).abs()
        );
    }
    let recs = journal_times(d);
    for id in &pair.ids[..2] {
        assert!(
            recs.iter().any(|r| r.1 == "failed" && &r.2 == id),
            "{id}: no failed record: {recs:?}"
        );
        assert!(
            recs.iter().any(|r| r.1 == "rolled_back" && &r.2 == id),
            "{id}: not rolled back: {recs:?}"
        );
    }
    pair.running(&pair.out, before);
    for (id, vm) in [(&pair.ids[0], "h0-v1"), (&pair.ids[1], "h0-v3")] {
        assert!(
            !Path::new(&format!("/run/netns/{}", names::netns_name(id, vm))).exists(),
            "{id}: namespace left on {vm}"
        );
    }
    // Once: every task of each vnode's group runs in its source namespace.
    for i in 0..2 {
        let ns = names::netns_name(&pair.ids[i], &pair.out.vm_of[&pair.ids[i]]);
        let procs =
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{}/cgroup.procs", pair.cgroups[i])).unwrap();
        for p in procs.split_whitespace() {
            let o = sh(&["ip", "netns", "identify", p]);
            let in_ns = String::from_utf8_lossy(&o.stdout).trim().to_string();
            assert!(
                !o.status.success() || in_ns.is_empty() || in_ns == ns,
                "task {p} of {} runs in {in_ns:?}",
                pair.ids[i]
            );
        }
    }
    // The same moves then succeed (the wrapper fails only once per vnode).
    pair.reach("in.json", &pair.into);
    pair.running(&pair.into, [count(d, 0), count(d, 1)]);
    assert!(pair.migrate(&["--teardown"]).status.success());
    assert_clean(&pair.topo, &pair.paths);
}
