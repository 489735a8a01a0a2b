//! A fault *after* the restore (releasing the hold on the destination
//! namespace fails): the tree already running at the destination is killed
//! there and restored at the source from the same images; the vnode is
//! back, once, with its pid, in its old namespace, linked and running.

mod testbed_support;

use netbalance::testbed::{deploy, names, VmHandle};
use std::path::Path;
use testbed_support::*;

#[test]
fn failure_after_restore_puts_the_vnode_back_once() {
    if !require(&["ip", "tc", "nsenter", "criu", "nft"]) {
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
    } = local_pair(&format!("exec sleep 301{}", std::process::id()), 30.0);
    fleet.insert(
        "h0-v2",
        VmHandle {
            exec: Box::new(FailingOn(&["nsenter", "ip", "-batch"])), // release_hold
            underlay: None,
        },
    );
    let pid = deploy(&mut fleet, &layout, &placement).unwrap().started[&a];
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    let result = move_vnode(&mut d, &topology, &testbed, &a, "h0-v2");
    let state_root = d.fleet.paths.state_root.clone();
    {
        let err = result.unwrap_err();
        eprintln!("expected failure: {err}");
        assert_eq!(err.exit_code(), 3, "not recovered: {err}");
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_eq!(d.placement.vm_of, placement.vm_of);
        // Back on h0-v0: pid 1 of its pid namespace, in the old namespace, link re-made, running, thawed.
        let ns = names::netns_name(&a, "h0-v0");
        let _ = pid;
        let pid = vnode_pid(&state_root, &a);
        assert_eq!(nspid(pid), [pid, 1]);
        assert_eq!(
            ns_id(&format!("/proc/{pid}/ns/net")),
            ns_id(&format!("/run/netns/{ns}")),
            "pid {pid} is not in {ns}"
        );
        assert!(!Path::new(&format!("/run/netns/{}", names::netns_name(&a, "h0-v2"))).exists());
        let addrs = sh_ok(&["ip", "-n", &ns, "-br", "addr"]);
        assert!(addrs.contains("10.64.0.1/30"), "{addrs}");
        let cg = names::cgroup_name(&a);
        assert_eq!(
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/freezer.state"))
                .unwrap()
                .trim(),
            "THAWED"
        );
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(!stat.contains(") Z") && !stat.contains(") T"), "{stat}");
        // Once: the vnode's group holds only its one process.
        let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs")).unwrap();
        assert_eq!(
            procs.split_whitespace().collect::<Vec<_>>(),
            vec![pid.to_string()],
            "{procs}"
        );
    }
}
