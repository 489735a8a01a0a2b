//! A links-only re-placement on local VMs against the model (model §3):
//! the time one more links-only move adds is measured the way `calibrate`
//! measures it, then 50 vnodes of a 10×10 grid move at once; the model's
//! T_r with that figure and the testbed's `local_cpus` is printed beside
//! the measured makespan and must be within a factor of two of it (the
//! docs report the paper-scale run, 502 moves on 8×8 VMs).

mod testbed_support;

use netbalance::cost::{self, Instance};
use netbalance::migrate::calibrate::measure_links_only;
use netbalance::migrate::move_some;
use netbalance::model::{Costs, Link, Placement, Testbed, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::{deploy, teardown, Fleet, Layout, Paths, SshOptions};
use testbed_support::*;

#[test]
fn a_links_only_replacement_takes_about_what_the_model_says() {
    if !require(&["ip", "tc", "nsenter", "unshare"]) {
        return;
    }
    let tag = tag();
    let (w, h) = (10, 10);
    let id = |x: usize, y: usize| format!("{tag}r{x}x{y}");
    let mut topo = Topology::default();
    for y in 0..h {
        for x in 0..w {
            let mut v = Vnode::new(id(x, y));
            v.memory_mb = 0.0;
            topo.vnodes.push(v);
            if x + 1 < w {
                topo.links.push(Link::new(id(x, y), id(x + 1, y), 100.0));
            }
            if y + 1 < h {
                topo.links.push(Link::new(id(x, y), id(x, y + 1), 100.0));
            }
        }
    }
    let mut testbed = Testbed::generate(2, 2, 1000.0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    testbed.local_cpus = Some(cpus);
    let quadrant = |x: usize, y: usize| format!("h{}-v{}", usize::from(y >= h / 2), usize::from(x >= w / 2));
    let mut placement = Placement::default();
    let mut target = Placement::default();
    for y in 0..h {
        for x in 0..w {
            placement.vm_of.insert(id(x, y), quadrant(x, y));
            // The left half moves across: h0-v0 → h1-v1, h1-v0 → h0-v1.
            let to = if x < w / 2 {
                quadrant(x + w / 2, h - 1 - y)
            } else {
                quadrant(x, y)
            };
            target.vm_of.insert(id(x, y), to);
        }
    }
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, SshOptions::new("/dev/null"), paths);
    let journal = StateDir::open(state.path().join("journal")).unwrap();
    let marginal_s = measure_links_only(&mut fleet, &testbed, &journal, ("h0-v0", "h1-v1"), 2).unwrap();

    let layout = Layout::new(&topo).unwrap();
    deploy(&mut fleet, &layout, &placement).unwrap();
    struct Down<'a>(&'a mut Fleet, &'a Layout, Placement);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = teardown(self.0, self.1, &self.2);
        }
    }
    let mut down = Down(&mut fleet, &layout, placement.clone());
    let moves: Vec<(String, String)> = target
        .vm_of
        .iter()
        .filter(|(v, vm)| placement.vm_of[*v] != **vm)
        .map(|(v, vm)| (v.clone(), vm.clone()))
        .collect();
    assert_eq!(moves.len(), 50);
    let pairs: Vec<(&str, &str)> = moves.iter().map(|(v, vm)| (v.as_str(), vm.as_str())).collect();
    let (measured_s, _) = move_some(down.0, &topo, &testbed, &mut down.2, &pairs, &journal).unwrap();
    assert_eq!(down.2.vm_of, target.vm_of);

    let costs = Costs {
        suspend_ms: 0.0,
        resume_ms: 0.0,
        reattach_ms: marginal_s * 1e3,
        ..Costs::default()
    };
    let inst = Instance::new(&topo, &testbed, costs);
    let modelled_s = cost::t_r(&inst, &inst.assignment(&placement), &inst.assignment(&target));
    eprintln!(
        "links-only re-placement, 50 of 100 vnodes on 2x2 local VMs, {cpus} CPU(s): one more move adds {:.1} ms; \
         model T_r {modelled_s:.2} s, measured {measured_s:.2} s ({:+.0} %)",
        marginal_s * 1e3,
        (measured_s / modelled_s - 1.0) * 100.0
    );
    assert!(
        (0.5..2.0).contains(&(measured_s / modelled_s)),
        "model {modelled_s:.2} s against measured {measured_s:.2} s"
    );
}
