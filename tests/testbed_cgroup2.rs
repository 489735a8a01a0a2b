//! The cgroup v2 driver against a real unified hierarchy: this machine boots
//! with cgroup v1, so the test mounts a cgroup2 of its own (only the core
//! files: cgroup.procs, cgroup.freeze, cgroup.events, cpu.stat), probes it,
//! and checks joining, CPU accounting, freeze (`frozen 1`: no CPU used),
//! thaw, kill and removal, and that nothing is left.

mod testbed_support;

use netbalance::testbed::cgroup::{probe, Cgroups, Kind};
use netbalance::testbed::cpu::CpuSample;
use netbalance::testbed::{Executor, LocalExecutor, Paths};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use testbed_support::*;

/// A cgroup2 mounted on a temporary directory, unmounted when dropped.
/// Every cgroup2 mount shows the one unified hierarchy, so the tests of
/// this file hold a lock while they use it (each checks the subtree goes).
struct Cgroup2 {
    dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Cgroup2 {
    fn mount() -> Cgroup2 {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        sh_ok(&["mount", "-t", "cgroup2", "none", dir.path().to_str().unwrap()]);
        Cgroup2 { dir, _serial: serial }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cgroup2 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn v2_driver_probes_joins_accounts_freezes_and_removes() {
    if !require(&["mount", "umount", "stat"]) {
        return;
    }
    let cg2 = Cgroup2::mount();
    let mut ex = LocalExecutor;
    assert_eq!(
        probe(&mut ex, cg2.path()).unwrap(),
        Kind::V2,
        "a cgroup2 mount, no systemd here"
    );
    if Path::new("/sys/fs/cgroup/freezer").exists() {
        assert_eq!(probe(&mut ex, Path::new("/sys/fs/cgroup")).unwrap(), Kind::V1);
    }
    let cgroups = Cgroups::at(cg2.path(), None);
    let d = cgroups.driver(&mut ex).unwrap();
    assert!(d.describe().contains("v2"), "{}", d.describe());
    cgroups.setup(&mut ex).unwrap();
    let name = format!("nb{}", tag());
    cgroups.create(&mut ex, &name).unwrap();
    let dir = cg2.path().join("netbalance").join(&name);
    assert!(dir.join("cgroup.freeze").exists());

    // A busy loop that joins the group itself (as a vnode's init does).
    let procs = cgroups.procs_files(&mut ex, &name).unwrap();
    assert_eq!(procs, [dir.join("cgroup.procs")]);
    let mut child = ChildGuard(
        Command::new("sh")
            .args(["-c", r#"echo 0 >"$1" && exec sh -c 'while :; do :; done'"#, "busy"])
            .arg(&procs[0])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let t0 = Instant::now();
    while !cgroups.pids(&mut ex, &name).unwrap().contains(&pid) {
        assert!(t0.elapsed() < Duration::from_secs(5), "never joined");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let u0 = cgroups.cpu_usage_ns(&mut ex, &name).unwrap();
    assert!(u0 > 10_000_000, "busy loop used only {u0} ns");

    let t = Instant::now();
    cgroups.freeze(&mut ex, &name).unwrap();
    let freeze_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(cgroups.is_frozen(&mut ex, &name).unwrap());
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    let f0 = cgroups.cpu_usage_ns(&mut ex, &name).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let f1 = cgroups.cpu_usage_ns(&mut ex, &name).unwrap();
    assert_eq!(f1, f0, "a frozen group used CPU");

    let t = Instant::now();
    cgroups.thaw(&mut ex, &name).unwrap();
    let thaw_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(!cgroups.is_frozen(&mut ex, &name).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let u1 = cgroups.cpu_usage_ns(&mut ex, &name).unwrap();
    assert!(u1 > f1 + 10_000_000, "thawed loop used only {} ns", u1 - f1);

    // The subtree's usage counts the group; a VM's CPU reading counts the
    // loop as the vnodes', not as work outside them.
    let all = cgroups.all_vnodes_usage_ns(&mut ex).unwrap();
    assert!(all >= u1, "the subtree's {all} ns < the group's {u1} ns");
    let paths = Paths {
        cgroups: cgroups.clone(),
        ..Paths::default()
    };
    let (s0, t) = (CpuSample::read(&mut ex, &paths).unwrap(), Instant::now());
    std::thread::sleep(Duration::from_millis(400));
    let s1 = CpuSample::read(&mut ex, &paths).unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(
        s1.vnodes_s - s0.vnodes_s > 0.2,
        "the loop used {} s of {wall} s",
        s1.vnodes_s - s0.vnodes_s
    );
    let outside = s0.outside_vnodes_until(&s1);
    assert!(
        (0.0..=wall + 0.05).contains(&outside),
        "{outside} s per CPU outside the vnodes in {wall} s"
    );
    eprintln!("cgroup v2 (hand-mounted): freeze {freeze_ms:.2} ms, thaw {thaw_ms:.2} ms");

    cgroups.kill_and_remove(&mut ex, &name).unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "killed");
    assert!(!dir.exists());
    cgroups.cleanup(&mut ex).unwrap();
    assert!(!cg2.path().join("netbalance").exists(), "subtree left");
    assert!(ex.exists(cg2.path()).unwrap());
}

/// Deploy, live-migrate (CRIU) and tear down a vnode whose group is in the
/// cgroup v2 hierarchy (forced: this machine's own is v1), under the
/// one-move path of the engine's driver.
#[test]
fn a_vnode_in_a_v2_group_migrates_with_criu() {
    if !require(&["mount", "ip", "nsenter", "unshare", "criu"]) {
        return;
    }
    let cg2 = Cgroup2::mount();
    let LocalPair {
        a,
        topology,
        testbed,
        placement,
        layout,
        state: _state,
        mut fleet,
        ..
    } = local_pair("exec sleep 300", 20.0);
    fleet.paths.cgroups = Cgroups::at(cg2.path(), Some(Kind::V2));
    let cgroups = fleet.paths.cgroups.clone();
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    let pid = netbalance::testbed::deploy(&mut d.fleet, &layout, &placement)
        .unwrap()
        .started[&a];
    let cg = netbalance::testbed::names::cgroup_name(&a);
    let procs =
        |cg: &str| std::fs::read_to_string(cg2.path().join("netbalance").join(cg).join("cgroup.procs")).unwrap();
    // Only the vnode's init (the `mv` that wrote its pid file may still be exiting).
    let t0 = Instant::now();
    while procs(&cg).split_whitespace().collect::<Vec<_>>() != [pid.to_string()] {
        assert!(t0.elapsed() < Duration::from_secs(5), "group of {a}: {}", procs(&cg));
        std::thread::sleep(Duration::from_millis(10));
    }
    let times = move_vnode(&mut d, &topology, &testbed, &a, "h0-v2").unwrap();
    assert_eq!(d.placement.vm_of[&a], "h0-v2");
    eprintln!("v2 move: {}", serde_json::to_string(&times).unwrap());
    let now = times.restored_pid.unwrap();
    assert_eq!(nspid(now), [now, 1]);
    assert_eq!(procs(&cg).split_whitespace().collect::<Vec<_>>(), [now.to_string()]);
    assert!(!cgroups.is_frozen(&mut LocalExecutor, &cg).unwrap());
    netbalance::testbed::teardown(&mut d.fleet, &layout, &d.placement).unwrap();
    assert!(!cg2.path().join("netbalance").exists(), "subtree left after teardown");
}

/// This machine's own cgroup v1: the vnode groups sit directly under each
/// hierarchy's root, and their sum counts a busy loop in one of them.
#[test]
fn v1_vnode_groups_add_up() {
    if !Path::new("/sys/fs/cgroup/cpuacct/cgroup.procs").exists() {
        eprintln!("no cgroup v1 cpuacct here: skipped");
        return;
    }
    let mut ex = LocalExecutor;
    let cgroups = Cgroups::at("/sys/fs/cgroup", Some(Kind::V1));
    let name = format!("nb{}", tag());
    cgroups.create(&mut ex, &name).unwrap();
    let procs = cgroups.procs_files(&mut ex, &name).unwrap();
    let mut child = ChildGuard(
        Command::new("sh")
            .args([
                "-c",
                r#"echo 0 >"$1" && echo 0 >"$2" && exec sh -c 'while :; do :; done'"#,
                "busy",
            ])
            .args(&procs)
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !cgroups.pids(&mut ex, &name).unwrap().contains(&child.0.id()) {
        assert!(t0.elapsed() < Duration::from_secs(5), "never joined");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let own = cgroups.cpu_usage_ns(&mut ex, &name).unwrap();
    let all = cgroups.all_vnodes_usage_ns(&mut ex).unwrap();
    assert!(
        own > 10_000_000 && all >= own,
        "the group {own} ns, all vnode groups {all} ns"
    );
    cgroups.kill_and_remove(&mut ex, &name).unwrap();
    let _ = child.0.wait();
    assert!(!Path::new("/sys/fs/cgroup/cpuacct").join(&name).exists());
}
