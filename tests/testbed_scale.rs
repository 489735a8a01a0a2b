//! A 10×10 grid (100 vnodes, 180 links) on four local VMs: deploy, one
//! monitor sample, a links-only move, teardown, each timed; nothing left.

mod testbed_support;

use netbalance::migrate::move_one;
use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::monitor::sample;
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, Paths, SshOptions};
use std::time::Instant;
use testbed_support::*;

#[test]
fn grid_of_100_vnodes_deploys_samples_moves_and_goes() {
    if !require(&["ip", "tc", "nsenter", "setsid"]) {
        return;
    }
    let tag = tag();
    let (w, h) = (10, 10);
    let id = |x: usize, y: usize| format!("{tag}g{x}x{y}");
    let mut topo = Topology::default();
    for y in 0..h {
        for x in 0..w {
            topo.vnodes.push(Vnode::new(id(x, y)));
            if x + 1 < w {
                topo.links.push(Link::new(id(x, y), id(x + 1, y), 100.0));
            }
            if y + 1 < h {
                topo.links.push(Link::new(id(x, y), id(x, y + 1), 100.0));
            }
        }
    }
    let testbed = Testbed::generate(2, 2, 1000.0);
    let mut placement = Placement::default();
    for y in 0..h {
        for x in 0..w {
            // Quadrants: h0-v0, h0-v1, h1-v0, h1-v1.
            let vm = format!("h{}-v{}", usize::from(y >= h / 2), usize::from(x >= w / 2));
            placement.vm_of.insert(id(x, y), vm);
        }
    }
    let layout = Layout::new(&topo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, SshOptions::new("/dev/null"), paths);

    let t = Instant::now();
    let report = deploy(&mut fleet, &layout, &placement);
    let deploy_s = t.elapsed().as_secs_f64();
    struct Down<'a>(&'a mut Fleet, &'a Layout, Placement);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = teardown(self.0, self.1, &self.2);
        }
    }
    let mut down = Down(&mut fleet, &layout, placement.clone());
    let report = report.unwrap();
    assert_eq!((report.vnodes, report.veth_links), (100, 180));

    let t = Instant::now();
    let s = sample(down.0, &layout, &placement).unwrap();
    let sample_s = t.elapsed().as_secs_f64();
    assert_eq!((s.cpu_ns.len(), s.link_bytes.len()), (100, 180));

    // Move a corner vnode to the far quadrant (its two links re-made).
    let corner = id(0, 0);
    let journal = StateDir::open(state.path().join("journal")).unwrap();
    let t = move_one(down.0, &topo, &testbed, &mut down.2, &corner, "h1-v1", &journal).unwrap();
    assert_eq!(down.2.vm_of[&corner], "h1-v1");
    let ns = names::netns_name(&corner, "h1-v1");
    let addrs = sh_ok(&["ip", "-n", &ns, "-br", "addr"]);
    assert!(addrs.contains("10.64.0.1/30"), "{addrs}");

    let t0 = Instant::now();
    let final_placement = down.2.clone();
    teardown(down.0, &layout, &final_placement).unwrap();
    let teardown_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "grid 10x10 on 4 local VMs: deploy {deploy_s:.2} s, one sample {:.0} ms, links-only move {:.0} ms, teardown {teardown_s:.2} s",
        sample_s * 1e3,
        t.total_s * 1e3
    );
    let left = sh_ok(&["ip", "netns", "list"]);
    for v in &topo.vnodes {
        assert!(!left.contains(&names::cgroup_name(&v.id)), "{} left behind", v.id);
    }
}
