//! The real driver's per-VM locks, without a testbed: every VM's executor
//! records each command it runs with the driver step that ran it (dry-run
//! executors underneath, vnodes without processes, so no root is needed).
//! Through the engine, random plans must never have two steps use one VM
//! at once (a step's commands on a VM are never interleaved with another
//! step's), while steps on disjoint VMs do run at the same time.
//!
//! The engine-level counterpart (the dispatcher never starts two moves on
//! one VM) is `greedy_respects_vms_and_the_lower_bound` in
//! src/migrate/dispatch.rs; this one checks the driver's own locking,
//! which also covers steps touching peers' VMs (restore, reattach) and the
//! cleanup steps.

use netbalance::inputs::Problem;
use netbalance::migrate::testbed_driver::TestbedDriver;
use netbalance::migrate::{Job, LinkSpec, Presence, StepBar, VnodeDriver, VnodeSpec};
use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::{Cmd, DryRunExecutor, Executor, Fleet, Output, Paths, VmHandle};
use netbalance::Result;
use proptest::prelude::*;
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

thread_local! {
    /// The driver step this thread is in (0: none).
    static STEP: Cell<u64> = const { Cell::new(0) };
}

/// Every command run on any VM, in the order they started: (VM, step).
type Trace = Arc<Mutex<Vec<(String, u64)>>>;

/// A dry-run executor that records the step of each command and takes a
/// little time, so that overlapping steps would interleave.
struct Watch {
    inner: DryRunExecutor,
    vm: String,
    trace: Trace,
}

impl Watch {
    fn note(&self) {
        self.trace.lock().unwrap().push((self.vm.clone(), STEP.with(Cell::get)));
        std::thread::sleep(Duration::from_micros(200));
    }
}

impl Executor for Watch {
    fn label(&self) -> String {
        self.inner.label()
    }
    fn machine(&self) -> Option<String> {
        self.inner.machine()
    }
    fn output(&mut self, cmd: &Cmd) -> Result<Output> {
        self.note();
        self.inner.output(cmd)
    }
    fn read_file(&mut self, p: &Path) -> Result<Vec<u8>> {
        self.note();
        self.inner.read_file(p)
    }
    fn write_file(&mut self, p: &Path, d: &[u8]) -> Result<()> {
        self.note();
        self.inner.write_file(p, d)
    }
    fn exists(&mut self, p: &Path) -> Result<bool> {
        self.note();
        self.inner.exists(p)
    }
    fn is_dry_run(&self) -> bool {
        true
    }
}

/// The real driver, each call marked as one step; counts steps in flight.
struct Steps {
    inner: TestbedDriver,
    next: AtomicU64,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Steps {
    fn run<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        STEP.with(|s| s.set(self.next.fetch_add(1, Ordering::SeqCst) + 1));
        self.peak
            .fetch_max(self.now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        let r = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        STEP.with(|s| s.set(0));
        r
    }
}

impl VnodeDriver for Steps {
    fn deploy(&self, v: &[(VnodeSpec, String)], l: &[LinkSpec]) -> Result<()> {
        self.run(|| self.inner.deploy(v, l))
    }
    fn suspend(&self, vm: &str, v: &[String]) -> Result<()> {
        self.run(|| self.inner.suspend(vm, v))
    }
    fn resume(&self, vm: &str, v: &[String]) -> Result<()> {
        self.run(|| self.inner.resume(vm, v))
    }
    fn checkpoint(&self, vm: &str, v: &str) -> Result<()> {
        self.run(|| self.inner.checkpoint(vm, v))
    }
    fn transfer(&self, v: &str, from: &str, to: &str) -> Result<()> {
        self.run(|| self.inner.transfer(v, from, to))
    }
    fn restore(&self, vm: &str, v: &VnodeSpec) -> Result<()> {
        self.run(|| self.inner.restore(vm, v))
    }
    fn reattach(&self, v: &str, l: &[LinkSpec]) -> Result<()> {
        self.run(|| self.inner.reattach(v, l))
    }
    fn remove(&self, vm: &str, v: &str) -> Result<()> {
        self.run(|| self.inner.remove(vm, v))
    }
    fn discard_image(&self, vm: &str, v: &str) -> Result<()> {
        self.run(|| self.inner.discard_image(vm, v))
    }
    fn probe(&self, vm: &str, v: &str) -> Result<Presence> {
        self.run(|| self.inner.probe(vm, v))
    }
}

/// The first VM where two steps' commands interleave, if any: per VM, each
/// step's commands must form one unbroken run in the trace.
fn interleaved(trace: &[(String, u64)]) -> Option<String> {
    let mut last: std::collections::HashMap<&str, u64> = Default::default();
    let mut done: std::collections::HashSet<(&str, u64)> = Default::default();
    for (vm, step) in trace {
        let prev = last.insert(vm, *step);
        if prev == Some(*step) {
            continue;
        }
        if let Some(p) = prev {
            done.insert((vm, p));
        }
        if done.contains(&(vm.as_str(), *step)) {
            return Some(format!("{vm}: step {step} ran again after another step used the VM"));
        }
    }
    None
}

/// Migrate `topo` from `p1` to `p2` on `testbed` through the engine and the
/// real driver on watched dry-run VMs; the trace and the most steps in
/// flight at once.
fn run(topo: &Topology, testbed: &Testbed, p1: &Placement, p2: &Placement) -> (Vec<(String, u64)>, usize) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("testbed.json"), serde_json::to_vec(testbed).unwrap()).unwrap();
    std::fs::write(d.path().join("topo.json"), serde_json::to_vec(topo).unwrap()).unwrap();
    let problem = Problem::resolve(
        Some(&d.path().join("topo.json")),
        Some(&d.path().join("testbed.json")),
        None,
        None,
    )
    .unwrap();
    let state = StateDir::open(d.path().join("state")).unwrap();
    let lock = state.lock().unwrap();
    let progress = StepBar::hidden();
    let trace: Trace = Default::default();
    let paths = Paths {
        state_root: d.path().join("vnodes"),
        keeper: None,
        ..Paths::default()
    };
    let (mut fleet, log) = Fleet::dry_run(testbed, paths);
    for (_, vm) in testbed.vms() {
        let inner = DryRunExecutor::new(vm.name.clone(), log.clone()).on_machine("local");
        fleet.insert(
            &vm.name,
            VmHandle {
                exec: Box::new(Watch {
                    inner,
                    vm: vm.name.clone(),
                    trace: trace.clone(),
                }),
                underlay: None,
            },
        );
    }
    let driver = Steps {
        inner: TestbedDriver::new(fleet, topo, Some(p1)).unwrap(),
        next: AtomicU64::new(0),
        now: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    };
    let (a1, a2) = (
        problem.assignment(p1, "p1").unwrap(),
        problem.assignment(p2, "p2").unwrap(),
    );
    let applied = Job {
        problem: &problem,
        driver: &driver,
        state: &state,
        lock: &lock,
        progress: &progress,
    }
    .apply(Some(&a1), &a2)
    .unwrap();
    assert!(applied.complete, "{:?}", applied.failures);
    assert_eq!(applied.placement.unwrap().vm_of, p2.vm_of);
    let trace = trace.lock().unwrap().clone();
    assert!(trace.iter().all(|(_, s)| *s != 0), "a command outside any step");
    (trace, driver.peak.load(Ordering::SeqCst))
}

fn placement(ids: &[String], vms: &[usize]) -> Placement {
    Placement {
        vm_of: ids
            .iter()
            .zip(vms)
            .map(|(id, v)| (id.clone(), format!("h0-v{v}")))
            .collect(),
        ..Placement::default()
    }
}

#[test]
fn the_checker_sees_an_interleaving() {
    let t = |v: &[(&str, u64)]| v.iter().map(|(a, b)| (a.to_string(), *b)).collect::<Vec<_>>();
    assert_eq!(
        interleaved(&t(&[("a", 1), ("b", 2), ("a", 1), ("b", 2), ("a", 3)])),
        None
    );
    assert!(interleaved(&t(&[("a", 1), ("a", 2), ("a", 1)])).is_some());
}

/// Two moves on disjoint VM pairs, linked to a vnode that stays: their
/// steps run at the same time, and still never share a VM.
#[test]
fn disjoint_moves_run_at_once_and_never_share_a_vm() {
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let topo = Topology {
        vnodes: ids.iter().map(Vnode::new).collect(),
        links: vec![Link::new("a", "c", 10.0), Link::new("b", "c", 10.0)],
    };
    let testbed = Testbed::generate(1, 5, 1000.0);
    let (trace, peak) = run(
        &topo,
        &testbed,
        &placement(&ids, &[0, 2, 4]),
        &placement(&ids, &[1, 3, 4]),
    );
    assert_eq!(interleaved(&trace), None);
    assert!(
        peak >= 2,
        "the two moves never overlapped (at most {peak} step at a time)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random topologies and plans on up to 5 VMs: no two steps on one VM
    /// at once, every move done.
    #[test]
    fn no_two_steps_hold_one_vm_at_once(
        n in 3usize..9,
        extra in proptest::collection::vec((0usize..9, 0usize..9), 0..6),
        from in proptest::collection::vec(0usize..5, 9),
        to in proptest::collection::vec(0usize..5, 9),
    ) {
        let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let mut links: Vec<Link> = (1..n).map(|i| Link::new(&ids[i - 1], &ids[i], 10.0)).collect();
        for (a, b) in extra {
            let (a, b) = (a % n, b % n);
            if a != b && !links.iter().any(|l| (l.a == ids[a] && l.b == ids[b]) || (l.a == ids[b] && l.b == ids[a])) {
                links.push(Link::new(&ids[a], &ids[b], 10.0));
            }
        }
        let topo = Topology { vnodes: ids.iter().map(Vnode::new).collect(), links };
        let testbed = Testbed::generate(1, 5, 1000.0);
        let (p1, p2) = (placement(&ids, &from[..n]), placement(&ids, &to[..n]));
        prop_assume!(p1 != p2);
        let (trace, _) = run(&topo, &testbed, &p1, &p2);
        prop_assert_eq!(interleaved(&trace), None);
    }
}
