//! Deploy a small topology onto local VMs (namespaces on this machine),
//! check links, addresses, rate limits, processes and cgroups, tear down.

mod testbed_support;

use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, Paths};
use std::path::Path;
use testbed_support::*;

/// Tears a deployment down even when the test panics.
struct Deployed<'a> {
    fleet: Fleet,
    layout: &'a Layout,
    placement: &'a Placement,
}

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        if let Err(e) = teardown(&mut self.fleet, self.layout, self.placement) {
            eprintln!("teardown: {e}");
        }
    }
}

#[test]
fn deploy_links_rate_limits_processes_and_teardown() {
    if !require(&["ip", "tc", "nsenter", "setsid"]) {
        return;
    }
    let tag = tag();
    let id = |i: usize| format!("{tag}n{i}");
    let mut topo = Topology::default();
    for i in 0..3 {
        topo.vnodes.push(Vnode::new(id(i)));
    }
    topo.vnodes[2].run = Some("echo started; exec sleep 300".into());
    topo.links.push(Link::new(id(0), id(1), 0.0)); // unlimited
    let mut slow = Link::new(id(1), id(2), 20.0);
    slow.delay_ms = 5.0;
    topo.links.push(slow);
    let testbed = Testbed::generate(1, 2, 1000.0);
    let mut placement = Placement::default();
    placement.vm_of.insert(id(0), "h0-v0".into());
    placement.vm_of.insert(id(1), "h0-v0".into());
    placement.vm_of.insert(id(2), "h0-v1".into());
    let layout = Layout::new(&topo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        ..Paths::default()
    };

    let mut d = Deployed {
        fleet: Fleet::new(
            &testbed,
            netbalance::testbed::SshOptions::new("/dev/null"),
            paths.clone(),
        ),
        layout: &layout,
        placement: &placement,
    };
    let report = deploy(&mut d.fleet, &layout, &placement).unwrap();
    eprintln!("deploy: {report:?}");
    assert_eq!(
        (
            report.vnodes,
            report.veth_links,
            report.vxlan_links,
            report.delay_not_applied,
            report.delay_applied
        ),
        // No sch_netem in this kernel: the delayed link's two ends go without.
        (3, 2, 0, 2, 0)
    );

    let ns: Vec<String> = (0..3)
        .map(|i| names::netns_name(&id(i), &placement.vm_of[&id(i)]))
        .collect();
    for n in &ns {
        assert!(Path::new(&format!("/run/netns/{n}")).exists(), "{n} missing");
        let lo = sh_ok(&["ip", "-n", n, "-br", "link", "show", "lo"]);
        assert!(lo.contains("UP") || lo.contains("UNKNOWN"), "lo not up in {n}: {lo}");
    }
    // n1 has eth0 (to n0) and eth1 (to n2) with the derived addresses.
    let a1 = sh_ok(&["ip", "-n", &ns[1], "-br", "addr"]);
    assert!(a1.contains("10.64.0.2/30") && a1.contains("10.64.0.5/30"), "{a1}");
    let q = sh_ok(&["tc", "-n", &ns[2], "qdisc", "show", "dev", "eth0"]);
    assert!(q.contains("tbf") && q.contains("rate 20Mbit"), "{q}");
    let q0 = sh_ok(&["tc", "-n", &ns[0], "qdisc", "show", "dev", "eth0"]);
    assert!(!q0.contains("tbf"), "unlimited link got a tbf: {q0}");

    // Traffic flows over both links; the 20 Mbit/s link is held near its rate.
    let fast = throughput(&ns[0], &ns[1], "10.64.0.2".parse().unwrap(), 5001, 0.5);
    let limited = throughput(&ns[2], &ns[1], "10.64.0.5".parse().unwrap(), 5002, 1.5);
    eprintln!("unlimited veth: {fast:.0} Mbit/s, tbf 20 Mbit/s: {limited:.1} Mbit/s");
    assert!(limited > 10.0 && limited < 26.0, "tbf 20 Mbit/s measured {limited}");
    assert!(fast > 3.0 * limited, "unlimited link only {fast} Mbit/s");

    // The run command: in n2's namespace and cgroups, its output logged.
    let pid = report.started[&id(2)];
    assert_eq!(
        ns_id(&format!("/proc/{pid}/ns/net")),
        ns_id(&format!("/run/netns/{}", ns[2]))
    );
    let cg = names::cgroup_name(&id(2));
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs")).unwrap();
    assert!(
        procs.split_whitespace().any(|p| p == pid.to_string()),
        "{pid} not in freezer group: {procs}"
    );
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/cpuacct/{cg}/cgroup.procs")).unwrap();
    assert!(
        procs.split_whitespace().any(|p| p == pid.to_string()),
        "{pid} not in cpuacct group: {procs}"
    );
    let log = std::fs::read_to_string(paths.vnode_dir(&cg).join("out.log")).unwrap();
    assert_eq!(log, "started\n");

    // Teardown removes everything, and is idempotent.
    teardown(&mut d.fleet, &layout, &placement).unwrap();
    for n in &ns {
        assert!(!Path::new(&format!("/run/netns/{n}")).exists(), "{n} left behind");
    }
    for c in ["cpuacct", "freezer"] {
        assert!(
            !Path::new(&format!("/sys/fs/cgroup/{c}/{cg}")).exists(),
            "cgroup {c}/{cg} left behind"
        );
    }
    assert!(!paths.vnode_dir(&cg).exists());
    std::thread::sleep(std::time::Duration::from_millis(50));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "vnode process {pid} still alive: {stat}"
    );
    teardown(&mut d.fleet, &layout, &placement).unwrap();
}

#[test]
fn deploy_refuses_a_second_copy_and_cleans_up_after_a_failure() {
    if !require(&["ip", "tc", "nsenter", "setsid"]) {
        return;
    }
    let tag = tag();
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let mut topo = Topology {
        vnodes: vec![Vnode::new(&a), Vnode::new(&b)],
        links: vec![Link::new(&a, &b, 10.0)],
    };
    let testbed = Testbed::generate(1, 2, 1000.0);
    let mut placement = Placement::default();
    placement.vm_of.insert(a.clone(), "h0-v0".into());
    placement.vm_of.insert(b.clone(), "h0-v1".into());
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        ..Paths::default()
    };
    let layout = Layout::new(&topo).unwrap();
    let mut d = Deployed {
        fleet: Fleet::new(
            &testbed,
            netbalance::testbed::SshOptions::new("/dev/null"),
            paths.clone(),
        ),
        layout: &layout,
        placement: &placement,
    };
    deploy(&mut d.fleet, &layout, &placement).unwrap();
    let ns_a = names::netns_name(&a, "h0-v0");

    // A second deploy of the same vnodes: refused before anything is touched.
    let e = deploy(&mut d.fleet, &layout, &placement).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("already has namespace"), "{e}");
    assert!(
        sh_ok(&["ip", "-n", &ns_a, "-br", "addr"]).contains("10.64.0.1/30"),
        "first deployment damaged"
    );
    teardown(&mut d.fleet, &layout, &placement).unwrap();

    // A failure half-way (tc refuses an absurd rate): everything made is removed.
    topo.links[0].mbps = 1e15;
    let bad = Layout::new(&topo).unwrap();
    let e = deploy(&mut d.fleet, &bad, &placement).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(
        !Path::new(&format!("/run/netns/{ns_a}")).exists(),
        "{ns_a} left after a failed deploy"
    );
    assert!(!Path::new(&format!("/sys/fs/cgroup/freezer/{}", names::cgroup_name(&a))).exists());
}
