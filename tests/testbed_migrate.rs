//! Live migration with CRIU between local VMs: a TCP client vnode moves
//! while talking to a server vnode; the connection, the pid and the cgroups
//! survive, and each phase is timed. Also: monitor sampling.

mod testbed_support;

use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::testbed::monitor::{sample, snapshot};
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, Paths, SshOptions};
use std::path::Path;
use std::time::{Duration, Instant};
use testbed_support::*;

#[test]
fn migrate_tcp_client_between_vms_keeps_connection_and_pid() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft", "/usr/bin/python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, cli, prog) = (
        tmp.path().join("server.py"),
        tmp.path().join("client.py"),
        tmp.path().join("progress"),
    );
    std::fs::write(&srv, ECHO_SERVER).unwrap();
    std::fs::write(&cli, counting_client()).unwrap();

    let tag = tag();
    let (s, c, r) = (format!("{tag}srv"), format!("{tag}cli"), format!("{tag}rtr"));
    let mut topo = Topology::default();
    // client -- router -- server would need routes; keep the client adjacent
    // to the server and give it a second, idle link to check re-attachment.
    let mut sv = Vnode::new(&s);
    sv.run = Some(format!("exec /usr/bin/python3 {} 10.64.0.2 7000", srv.display()));
    let mut cv = Vnode::new(&c);
    cv.run = Some(format!(
        "exec /usr/bin/python3 {} 10.64.0.2 7000 {}",
        cli.display(),
        prog.display()
    ));
    topo.vnodes = vec![cv, sv, Vnode::new(&r)];
    topo.links = vec![Link::new(&c, &s, 100.0), Link::new(&c, &r, 50.0)];
    let testbed = Testbed::generate(1, 3, 1000.0);
    let mut placement = Placement::default();
    placement.vm_of.insert(c.clone(), "h0-v0".into());
    placement.vm_of.insert(s.clone(), "h0-v1".into());
    placement.vm_of.insert(r.clone(), "h0-v2".into());
    let layout = Layout::new(&topo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        criu: which("criu").unwrap().display().to_string(),
        keeper: keeper(),
        ..Paths::default()
    };
    let mut d = Deployed {
        fleet: Fleet::new(&testbed, SshOptions::new("/dev/null"), paths.clone()),
        layout: &layout,
        placement: placement.clone(),
    };

    // The server must listen before the client starts: deploy, then the
    // client's first connect may race; the script exits on failure, so retry.
    let report = deploy(&mut d.fleet, &layout, &placement).unwrap();
    let mut pid = report.started[&c];
    assert_eq!(nspid(pid), [pid, 1], "the vnode is pid 1 of its own pid namespace");
    assert_ne!(
        ns_id(&format!("/proc/{pid}/ns/time")),
        ns_id("/proc/self/ns/time"),
        "the vnode has a time namespace of its own"
    );
    let t0 = Instant::now();
    while client_progress(&prog).0 == 0 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            panic!(
                "client exited early: {}",
                std::fs::read_to_string(paths.vnode_dir(&names::cgroup_name(&c)).join("out.log")).unwrap_or_default()
            );
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "client never talked");
        std::thread::sleep(Duration::from_millis(20));
    }
    let n0 = wait_client(&prog, 3, Duration::from_secs(10));

    // Move the client h0-v0 -> h0-v2 (same VM as its other peer), then back.
    for to in ["h0-v2", "h0-v0"] {
        let before = client_progress(&prog).0;
        let times = move_vnode(&mut d, &topo, &testbed, &c, to).unwrap();
        assert_eq!(d.placement.vm_of[&c], to);
        eprintln!("migration timing: {}", serde_json::to_string(&times).unwrap());
        assert!(times.checkpointed);
        assert_eq!(times.pid, Some(pid));
        // Its pid on the machine may change; inside its pid namespace it is 1.
        pid = times.restored_pid.expect("restored");
        assert_eq!(pid, vnode_pid(&paths.state_root, &c));
        assert_eq!(nspid(pid), [pid, 1]);
        // The keeper reaps the dumped tasks at once, on the way back too
        // (pid 1 here takes 1.4–1.9 s); the bound is generous for loaded CI.
        assert!(
            times.reap_s < 1.0,
            "waited {:.3} s for the dumped tasks to be reaped",
            times.reap_s
        );
        assert!(times.image_bytes > 100_000, "{times:?}");
        let ns = names::netns_name(&c, to);
        assert_eq!(
            ns_id(&format!("/proc/{pid}/ns/net")),
            ns_id(&format!("/run/netns/{ns}")),
            "pid {pid} not in {ns}"
        );
        let old = names::netns_name(&c, if to == "h0-v2" { "h0-v0" } else { "h0-v2" });
        assert!(
            !Path::new(&format!("/run/netns/{old}")).exists(),
            "old namespace {old} left"
        );
        // Both links are back, with their addresses and rate limits.
        let addrs = sh_ok(&["ip", "-n", &ns, "-br", "addr"]);
        assert!(
            addrs.contains("10.64.0.1/30") && addrs.contains("10.64.0.5/30"),
            "{addrs}"
        );
        let q = sh_ok(&[
            "tc",
            "-n",
            &names::netns_name(&s, "h0-v1"),
            "qdisc",
            "show",
            "dev",
            "eth0",
        ]);
        assert!(q.contains("rate 100Mbit"), "server end lost its tbf: {q}");
        let cg = names::cgroup_name(&c);
        let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs")).unwrap();
        assert!(
            procs.split_whitespace().any(|p| p == pid.to_string()),
            "not in its freezer group after restore: {procs}"
        );
        assert_eq!(
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/freezer.state"))
                .unwrap()
                .trim(),
            "THAWED"
        );
        // The same TCP connection goes on: the counter keeps rising, echoes match.
        let n = wait_client(&prog, before + 5, Duration::from_secs(10));
        assert!(n > n0);
    }

    // A vnode without a process moves by re-attaching its links only.
    let times = move_vnode(&mut d, &topo, &testbed, &r, "h0-v1").unwrap();
    assert_eq!(d.placement.vm_of[&r], "h0-v1");
    assert!(!times.checkpointed);
    eprintln!(
        "migration timing (links only): {}",
        serde_json::to_string(&times).unwrap()
    );
    let addrs = sh_ok(&["ip", "-n", &names::netns_name(&r, "h0-v1"), "-br", "addr"]);
    assert!(addrs.contains("10.64.0.6/30"), "{addrs}");
    wait_client(&prog, client_progress(&prog).0 + 3, Duration::from_secs(10));

    teardown(&mut d.fleet, &layout, &d.placement).unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}/ns")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
    );
}

#[test]
fn monitor_samples_cpu_and_link_rates() {
    if !require(&["ip", "tc", "nsenter", "setsid"]) {
        return;
    }
    let tag = tag();
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let mut topo = Topology::default();
    let mut busy = Vnode::new(&a);
    busy.run = Some("while :; do :; done".into());
    topo.vnodes = vec![busy, Vnode::new(&b)];
    topo.links = vec![Link::new(&a, &b, 40.0)];
    let testbed = Testbed::generate(1, 2, 1000.0);
    let mut placement = Placement::default();
    placement.vm_of.insert(a.clone(), "h0-v0".into());
    placement.vm_of.insert(b.clone(), "h0-v1".into());
    let layout = Layout::new(&topo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        ..Paths::default()
    };
    let mut d = Deployed {
        fleet: Fleet::new(&testbed, SshOptions::new("/dev/null"), paths),
        layout: &layout,
        placement: placement.clone(),
    };
    deploy(&mut d.fleet, &layout, &placement).unwrap();

    let pidfile = d.fleet.paths.vnode_dir(&names::cgroup_name(&a)).join("pid");
    let busy_pid = d.fleet.exec("h0-v0").unwrap().read_file(&pidfile).unwrap();
    let busy_pid: u32 = String::from_utf8(busy_pid).unwrap().trim().parse().unwrap();
    let ticks = || -> f64 {
        // utime + stime of the busy process, from /proc (fields 14 and 15).
        let stat = std::fs::read_to_string(format!("/proc/{busy_pid}/stat")).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap())
            / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    };
    let c0 = ticks();
    let s0 = sample(&mut d.fleet, &layout, &placement).unwrap();
    // 1 s of traffic from b to a over the 40 Mbit/s link.
    let (na, nb) = (names::netns_name(&a, "h0-v0"), names::netns_name(&b, "h0-v1"));
    let measured = throughput(&nb, &na, "10.64.0.1".parse().unwrap(), 5003, 1.0);
    let s1 = sample(&mut d.fleet, &layout, &placement).unwrap();
    let c1 = ticks();
    let snap = snapshot(&s0, &s1, &layout, 1.0, 1.0);
    let by_proc = (c1 - c0) / s1.at.duration_since(s0.at).as_secs_f64();
    eprintln!(
        "snapshot: {}  (receiver saw {measured:.1} Mbit/s)",
        serde_json::to_string(&snap).unwrap()
    );
    let cpu_a = snap.cpu[&a];
    // cpuacct agrees with the kernel's own account of the process (to a few
    // clock ticks), whatever share of the CPU the loop got.
    eprintln!("busy loop: cpuacct {cpu_a:.3}, /proc/PID/stat {by_proc:.3} CPU-s/s");
    assert!(cpu_a > 0.02 && cpu_a < 1.2, "busy loop used {cpu_a} CPU-s/s");
    assert!(
        (cpu_a - by_proc).abs() < 0.15 * by_proc + 0.05,
        "cpuacct {cpu_a} vs /proc {by_proc}"
    );
    assert!(snap.cpu[&b] < 0.05, "idle vnode used {} CPU-s/s", snap.cpu[&b]);
    assert_eq!(snap.mbps.len(), 1);
    let rate = snap.mbps[0].rate;
    // The sampled window is a little longer than the transfer: rate a bit below 40.
    assert!(rate > 20.0 && rate < 46.0, "link rate {rate}");
    // Time dilation: at τ = 2 a virtual second lasts two real ones.
    let slow = snapshot(&s0, &s1, &layout, 1.0, 2.0);
    assert!((slow.mbps[0].rate - 2.0 * rate).abs() < 1e-6 * rate);
}

#[test]
fn failed_restore_puts_the_vnode_back() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let LocalPair {
        a,
        b,
        topology,
        testbed,
        placement,
        layout,
        state: _state,
        mut fleet,
    } = local_pair("exec sleep 300", 30.0);
    fleet.insert(
        "h0-v2",
        netbalance::testbed::VmHandle {
            exec: Box::new(FailingOn(&["nsenter", "restore"])),
            underlay: None,
        },
    );
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    let report = deploy(&mut d.fleet, &layout, &placement).unwrap();
    let pid = report.started[&a];

    let err = move_vnode(&mut d, &topology, &testbed, &a, "h0-v2").unwrap_err();
    eprintln!("expected failure: {err}");
    assert_eq!(err.exit_code(), 3, "not recovered: {err}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(
        d.placement.vm_of, placement.vm_of,
        "the placement reached is the old one"
    );
    // Back on h0-v0: pid 1 of its pid namespace, in the old namespace, link re-made, running.
    let ns = names::netns_name(&a, "h0-v0");
    let _ = pid;
    let pid = vnode_pid(&d.fleet.paths.state_root, &a);
    assert_eq!(nspid(pid), [pid, 1]);
    assert_eq!(
        ns_id(&format!("/proc/{pid}/ns/net")),
        ns_id(&format!("/run/netns/{ns}"))
    );
    assert!(!Path::new(&format!("/run/netns/{}", names::netns_name(&a, "h0-v2"))).exists());
    let addrs = sh_ok(&["ip", "-n", &ns, "-br", "addr"]);
    assert!(addrs.contains("10.64.0.1/30"), "{addrs}");
    let q = sh_ok(&[
        "tc",
        "-n",
        &names::netns_name(&b, "h0-v1"),
        "qdisc",
        "show",
        "dev",
        "eth0",
    ]);
    assert!(q.contains("rate 30Mbit"), "{q}");
    let cg = names::cgroup_name(&a);
    assert_eq!(
        std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/freezer.state"))
            .unwrap()
            .trim(),
        "THAWED"
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(!stat.contains(") Z") && !stat.contains(") T"), "{stat}");
}

/// A local executor that, right before `criu restore`, takes pid `pid` on
/// this machine with a process of its own (`ns_last_pid` set to pid - 1,
/// then a fork): the vnode's old pid is taken at the destination, as on
/// another VM whose processes happen to hold it.
struct OccupyOnRestore {
    pid: u32,
    occupier: std::sync::Arc<std::sync::Mutex<Option<ChildGuard>>>,
}

impl OccupyOnRestore {
    fn occupy(&self) {
        let mut slot = self.occupier.lock().unwrap();
        for _ in 0..200 {
            if slot.is_some() || Path::new(&format!("/proc/{}", self.pid)).exists() {
                return; // ours, or another process took it: taken either way
            }
            std::fs::write("/proc/sys/kernel/ns_last_pid", (self.pid - 1).to_string()).unwrap();
            let child = ChildGuard(std::process::Command::new("sleep").arg("120").spawn().unwrap());
            if child.0.id() == self.pid {
                *slot = Some(child);
            }
        }
    }
}

impl netbalance::testbed::Executor for OccupyOnRestore {
    fn label(&self) -> String {
        format!("local (pid {} taken before a restore)", self.pid)
    }
    fn machine(&self) -> Option<String> {
        Some("local".into())
    }
    fn output(&mut self, cmd: &netbalance::testbed::Cmd) -> netbalance::Result<netbalance::testbed::Output> {
        let argv = cmd.argv();
        if argv.contains(&"restore") && argv.iter().any(|a| a.ends_with("criu")) {
            self.occupy();
        }
        netbalance::testbed::LocalExecutor.output(cmd)
    }
    fn read_file(&mut self, p: &Path) -> netbalance::Result<Vec<u8>> {
        netbalance::testbed::LocalExecutor.read_file(p)
    }
    fn write_file(&mut self, p: &Path, d: &[u8]) -> netbalance::Result<()> {
        netbalance::testbed::LocalExecutor.write_file(p, d)
    }
}

/// The vnode's pid on the machine is taken at the destination when it is
/// restored: the move still works (the vnode is pid 1 of its own pid
/// namespace, and only the pids inside it are restored as they were), it
/// gets another pid on the machine, and the pids inside its namespace
/// (root and child) are the same before and after.
#[test]
fn a_move_works_when_the_vnodes_pid_is_taken_at_the_destination() {
    if !require(&["ip", "nsenter", "unshare", "criu"]) {
        return;
    }
    let LocalPair {
        a,
        topology,
        testbed,
        placement,
        layout,
        state: _state,
        mut fleet,
        ..
    } = local_pair("sleep 300 & exec sleep 301", 20.0);
    let report = deploy(&mut fleet, &layout, &placement);
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    let pid = report.unwrap().started[&a];
    let cg = names::cgroup_name(&a);
    // Pids of the tree: on the machine and inside the vnode's namespace.
    let tree = || -> Vec<Vec<u32>> {
        let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs")).unwrap();
        // A task that exited between the two reads (a transient shell of
        // the vnode's start) has no status left: not part of the tree.
        let mut t: Vec<Vec<u32>> = procs
            .split_whitespace()
            .map(|p| nspid(p.parse().unwrap()))
            .filter(|p| !p.is_empty())
            .collect();
        t.sort_by_key(|p| p[1]);
        t
    };
    // Both sleeps up, and no transient task of the start-up (a shell that
    // writes the pid file) still listed: it took pid 2 inside once, before
    // `sleep 300` started as 3 (a failed run read [1, 2] then [1, 3]).
    let comm = |outer: u32| std::fs::read_to_string(format!("/proc/{outer}/comm")).unwrap_or_default();
    let settled = || {
        let t = tree();
        t.len() == 2 && t.iter().all(|p| comm(p[0]).trim() == "sleep")
    };
    let t0 = Instant::now();
    while !settled() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the child never started: {:?}",
            tree()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = tree();
    assert_eq!(before[0], [pid, 1], "the root is pid 1 of its namespace");
    let occupier = std::sync::Arc::new(std::sync::Mutex::new(None));
    d.fleet.insert(
        "h0-v2",
        netbalance::testbed::VmHandle {
            exec: Box::new(OccupyOnRestore {
                pid,
                occupier: occupier.clone(),
            }),
            underlay: None,
        },
    );
    let times = move_vnode(&mut d, &topology, &testbed, &a, "h0-v2").unwrap();
    assert_eq!(d.placement.vm_of[&a], "h0-v2");
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} was not taken during the restore"
    );
    let ours = occupier.lock().unwrap().is_some();
    eprintln!("pid {pid} taken during the restore (by the test: {ours}); restored as {times:?}");
    let now = times.restored_pid.unwrap();
    assert_ne!(now, pid);
    let after = tree();
    assert_eq!(after[0], [now, 1]);
    let inner = |t: &[Vec<u32>]| t.iter().map(|p| p[1]).collect::<Vec<_>>();
    assert_eq!(inner(&after), inner(&before), "pids inside the vnode's namespace");
    assert_eq!(
        ns_id(&format!("/proc/{now}/ns/net")),
        ns_id(&format!("/run/netns/{}", names::netns_name(&a, "h0-v2")))
    );
}
