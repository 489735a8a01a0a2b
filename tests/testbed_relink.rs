//! A restore that fails on the destination after the vnode's links were
//! re-attached there, on two SSH VMs: the vnode and its peer share VM 1
//! (a veth link), the move to VM 2 turns the link into a VXLAN tunnel, and
//! `criu restore` fails on VM 2 (a wrapper that VM 2 alone sees). The
//! engine restores the vnode on VM 1. The peer's tunnel end made for the
//! failed move must go with it: left in the peer's namespace it keeps the
//! tunnel's VNI taken on VM 1, and the next move to VM 2 then failed with
//! "A VXLAN device with the specified VNI already exists".

mod testbed_support;

use netbalance::model::{Link, Placement, Topology, Vnode};
use netbalance::testbed::{deploy, names, Cmd, Fleet, Layout, Paths};
use testbed_support::*;

/// `criu` on the VMs: the real one, except `restore` while the file
/// `fail-restore` is next to this script (VM i sees its own directory).
const CRIU_WRAPPER: &str = "#!/bin/sh\n\
if [ \"$1\" = restore ] && [ -e \"$(dirname \"$0\")/fail-restore\" ]; then\n\
  echo 'criu restore: injected failure' >&2; exit 1\n\
fi\n\
exec REAL \"$@\"\n";

#[test]
fn a_failed_restore_leaves_no_tunnel_end_at_the_peer() {
    if !require(SSH_CRIU_TOOLS) {
        return;
    }
    let vms = two_ssh_vms(249, "l");
    let tag = vms.tag.clone();
    let (v, p) = (format!("{tag}v"), format!("{tag}p"));
    let mut vv = Vnode::new(&v);
    vv.run = Some(format!("exec sleep 302{}", std::process::id()));
    let topo = Topology {
        vnodes: vec![vv, Vnode::new(&p)],
        links: vec![Link::new(&v, &p, 100.0)],
    };
    let testbed = vms.testbed();
    let mut placement = Placement::default();
    placement.vm_of.insert(v.clone(), "h0-v0".into());
    placement.vm_of.insert(p.clone(), "h0-v0".into());
    let layout = Layout::new(&topo).unwrap();

    // The wrapper, in both VMs' view of the state root.
    let real = which("criu").unwrap().display().to_string();
    let wrapper = vms.state_root.join("criu");
    for i in 0..2 {
        let own = vms.root.path().join(format!("vm{i}/criu"));
        std::fs::write(&own, CRIU_WRAPPER.replace("REAL", &real)).unwrap();
        sh_ok(&["chmod", "+x", &own.display().to_string()]);
    }
    let fail = vms.root.path().join("vm1/fail-restore");
    std::fs::write(&fail, "").unwrap();

    let paths = Paths {
        criu: wrapper.display().to_string(),
        ..vms.paths()
    };
    let mut d = Deployed {
        fleet: Fleet::new(&testbed, vms.ssh_options(), paths),
        layout: &layout,
        placement: placement.clone(),
    };
    let report = deploy(&mut d.fleet, &layout, &placement).unwrap();
    assert_eq!((report.veth_links, report.vxlan_links), (1, 0));

    let err = move_vnode(&mut d, &topo, &testbed, &v, "h1-v0").unwrap_err();
    eprintln!("the move with the failing restore: {err}");
    assert!(
        matches!(err, netbalance::Error::HostRecovered { .. }),
        "the vnode is back on VM 1: {err:?}"
    );
    assert_eq!(d.placement.vm_of[&v], "h0-v0");
    let peer_ns = names::netns_name(&p, "h0-v0");
    let tunnels = d
        .fleet
        .exec("h0-v0")
        .unwrap()
        .run(&Cmd::new("ip").args(["-n", &peer_ns, "-o", "link", "show", "type", "vxlan"]))
        .unwrap();
    assert!(
        tunnels.trim().is_empty(),
        "a tunnel end left in the peer's namespace: {tunnels}"
    );

    // The same move again, without the failure.
    std::fs::remove_file(&fail).unwrap();
    move_vnode(&mut d, &topo, &testbed, &v, "h1-v0").expect("the move to VM 2, the second time");
    assert_eq!(d.placement.vm_of[&v], "h1-v0");
    let link = d
        .fleet
        .exec("h0-v0")
        .unwrap()
        .run(&Cmd::new("ip").args(["-n", &peer_ns, "-d", "-o", "link", "show"]))
        .unwrap();
    assert_eq!(link.matches("vxlan id").count(), 1, "{link}");
}
