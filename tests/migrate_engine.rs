//! The migration engine against the fake driver, with faults injected at
//! every step kind: whatever fails, no vnode is lost, every vnode runs
//! exactly once where the state dir says, and the journal is closed.

use netbalance::inputs::Problem;
use netbalance::migrate::dispatch::Dispatcher;
use netbalance::migrate::fake::{FakeDriver, Fault, World};
use netbalance::migrate::{Applied, Direction, Job, StepBar};
use netbalance::model::{Link, Testbed, Topology, Vnode};
use netbalance::state::journal::Step;
use netbalance::state::StateDir;
use proptest::prelude::*;
use std::path::Path;

/// 12 vnodes in a ring with chords; 2 hosts × 3 VMs.
fn problem(dir: &Path) -> Problem {
    let mut topo = Topology {
        vnodes: (0..12).map(|i| Vnode::new(format!("n{i}"))).collect(),
        links: vec![],
    };
    for i in 0..12 {
        topo.links
            .push(Link::new(format!("n{i}"), format!("n{}", (i + 1) % 12), 100.0));
        if i % 3 == 0 {
            topo.links
                .push(Link::new(format!("n{i}"), format!("n{}", (i + 5) % 12), 10.0));
        }
    }
    let tb = Testbed::generate(2, 3, 10_000.0);
    std::fs::write(dir.join("topology.json"), serde_json::to_vec(&topo).unwrap()).unwrap();
    std::fs::write(dir.join("testbed.json"), serde_json::to_vec(&tb).unwrap()).unwrap();
    Problem::resolve(
        Some(&dir.join("topology.json")),
        Some(&dir.join("testbed.json")),
        None,
        None,
    )
    .unwrap()
}

/// Deploy `from` with a driver without faults; the world it leaves.
fn deployed(problem: &Problem, state: &StateDir, from: &[u32]) -> World {
    let driver = FakeDriver::new(World::default());
    let lock = state.lock().unwrap();
    let progress = StepBar::hidden();
    let job = Job {
        problem,
        driver: &driver,
        state,
        lock: &lock,
        progress: &progress,
    };
    let applied = job.apply(None, from).unwrap();
    assert!(applied.complete);
    let world = driver.world();
    world.check(&applied.placement.unwrap().vm_of).unwrap();
    world
}

fn migrate(
    problem: &Problem,
    state: &StateDir,
    driver: &FakeDriver,
    from: &[u32],
    to: &[u32],
) -> netbalance::Result<Applied> {
    let lock = state.lock().unwrap();
    let progress = StepBar::hidden();
    Job {
        problem,
        driver,
        state,
        lock: &lock,
        progress: &progress,
    }
    .apply(Some(from), to)
}

/// The state dir holds a placement, the journal is closed, and the world
/// runs exactly that placement with every image cleaned up.
fn assert_consistent(state: &StateDir, world: &World) -> std::collections::BTreeMap<String, String> {
    let placement = state.placement().unwrap().expect("a placement in force");
    world
        .check(&placement.vm_of)
        .unwrap_or_else(|e| panic!("world != state: {e}\n{world:#?}"));
    assert!(state.journal().unwrap().unfinished().is_none(), "journal left open");
    assert_eq!(world.image_count(), 0, "images left over: {:?}", world.images);
    placement.vm_of
}

const FROM: [u32; 12] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5];
/// Moves within and across hosts, some VMs in several moves.
const TO: [u32; 12] = [3, 1, 0, 4, 4, 2, 5, 0, 2, 1, 3, 5];

#[test]
fn migration_without_faults_reaches_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem(dir.path());
    let state = StateDir::open(dir.path().join("state")).unwrap();
    let world = deployed(&problem, &state, &FROM);
    let driver = FakeDriver::new(world);
    let applied = migrate(&problem, &state, &driver, &FROM, &TO).unwrap();
    assert!(applied.complete, "{:?}", applied.failures);
    assert_eq!(applied.changed, FROM.iter().zip(&TO).filter(|(a, b)| a != b).count());
    let vm_of = assert_consistent(&state, &driver.world());
    assert_eq!(vm_of, problem.placement_of(&TO).vm_of);
}

/// Every step kind, failing at its 1st, 2nd or 3rd call, before or after
/// its effect: the migration ends consistent, and exit 3 when incomplete.
#[test]
fn every_injected_step_failure_leaves_a_consistent_placement() {
    let steps = [
        Step::Suspend,
        Step::Checkpoint,
        Step::Transfer,
        Step::Restore,
        Step::Reattach,
        Step::Resume,
        Step::Remove,
        Step::Probe,
    ];
    let mut incomplete = 0;
    for step in steps {
        for nth in 1..=3 {
            for after in [false, true] {
                let fault = if after {
                    Fault::FailAfter { step, nth }
                } else {
                    Fault::Fail { step, nth }
                };
                let dir = tempfile::tempdir().unwrap();
                let problem = problem(dir.path());
                let state = StateDir::open(dir.path().join("state")).unwrap();
                let world = deployed(&problem, &state, &FROM);
                let driver = FakeDriver::new(world).with_fault(fault.clone());
                let applied =
                    migrate(&problem, &state, &driver, &FROM, &TO).unwrap_or_else(|e| panic!("{fault:?}: {e}"));
                let vm_of = assert_consistent(&state, &driver.world());
                assert_eq!(Some(&vm_of), applied.placement.as_ref().map(|p| &p.vm_of), "{fault:?}");
                if !applied.complete {
                    incomplete += 1;
                    let err = applied.into_result(&state).unwrap_err();
                    assert_eq!(err.exit_code(), 3, "{fault:?}: {err}");
                    assert!(err.to_string().contains("placement.json"), "{err}");
                }
            }
        }
    }
    // Faults in the move steps must have hit: they end incomplete.
    assert!(
        incomplete >= 4 * 3 * 2 - 6,
        "only {incomplete} incomplete runs: faults not injected?"
    );
}

#[test]
fn a_destination_that_drops_its_ssh_connection_for_good_is_avoided() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem(dir.path());
    let state = StateDir::open(dir.path().join("state")).unwrap();
    // h1-v2 (VM 5) starts empty and is a destination.
    let from = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1];
    let to = [5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 0, 5];
    let world = deployed(&problem, &state, &from);
    let driver = FakeDriver::new(world).with_fault(Fault::Unreachable {
        vm: "h1-v2".into(),
        from: 1,
        calls: usize::MAX,
    });
    let applied = migrate(&problem, &state, &driver, &from, &to).unwrap();
    assert!(!applied.complete);
    let vm_of = assert_consistent(&state, &driver.world());
    assert_eq!(
        vm_of,
        problem.placement_of(&from).vm_of,
        "every vnode back on its source"
    );
}

#[test]
fn a_short_ssh_drop_during_the_moves_is_rolled_back() {
    let mut hit = 0;
    for from_call in [2, 3, 4, 5, 6, 8] {
        let dir = tempfile::tempdir().unwrap();
        let problem = problem(dir.path());
        let state = StateDir::open(dir.path().join("state")).unwrap();
        let world = deployed(&problem, &state, &FROM);
        let driver = FakeDriver::new(world).with_fault(Fault::Unreachable {
            vm: "h1-v0".into(),
            from: from_call,
            calls: 2,
        });
        hit += usize::from(!migrate(&problem, &state, &driver, &FROM, &TO).unwrap().complete);
        assert_consistent(&state, &driver.world());
    }
    assert!(hit >= 3, "the drop hit a move only {hit} times");
}

/// Take up a crashed FROM -> TO run with `driver` in `direction`: it
/// completes, consistent, at TO (resume) or FROM (rollback).
fn take_up(problem: &Problem, state: &StateDir, driver: &FakeDriver, direction: Direction, case: &str) {
    let lock = state.lock().unwrap();
    let progress = StepBar::hidden();
    let job = Job {
        problem,
        driver,
        state,
        lock: &lock,
        progress: &progress,
    };
    let applied = job
        .recover(direction)
        .unwrap_or_else(|e| panic!("{case} {direction:?}: {e}"));
    assert!(applied.complete, "{:?}", applied.failures);
    let vm_of = assert_consistent(state, &driver.world());
    let want = if direction == Direction::Resume { &TO } else { &FROM };
    assert_eq!(vm_of, problem.placement_of(want).vm_of, "{case} {direction:?}");
}

#[test]
fn a_crashed_migration_is_resumed_or_rolled_back_from_the_journal() {
    for step in [Step::Checkpoint, Step::Transfer, Step::Restore, Step::Reattach] {
        for nth in [1, 3] {
            for direction in [Direction::Resume, Direction::Rollback] {
                let dir = tempfile::tempdir().unwrap();
                let problem = problem(dir.path());
                let state = StateDir::open(dir.path().join("state")).unwrap();
                let world = deployed(&problem, &state, &FROM);
                let driver = FakeDriver::new(world).with_fault(Fault::Crash { step, nth });
                let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    migrate(&problem, &state, &driver, &FROM, &TO)
                }));
                assert!(crashed.is_err(), "the injected crash happened");
                assert!(state.journal().unwrap().unfinished().is_some());
                // A new run is refused until the crashed one is taken up.
                let err = migrate(&problem, &state, &FakeDriver::new(driver.world()), &FROM, &TO).unwrap_err();
                assert!(err.to_string().contains("--resume"), "{err}");
                let driver = FakeDriver::new(driver.world());
                take_up(&problem, &state, &driver, direction, &format!("{step:?} {nth}"));
            }
        }
    }
}

#[test]
fn moves_sharing_a_vm_run_in_sequence_others_in_parallel_near_the_planned_makespan() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem(dir.path());
    let state = StateDir::open(dir.path().join("state")).unwrap();
    let world = deployed(&problem, &state, &FROM);
    // Real-sized steps (x0.5): the journal's fsync per step stays small beside them, as on a testbed.
    let scale = 0.5;
    let driver = FakeDriver::new(world).with_timing(&problem.instance, scale);
    let plan = netbalance::cost::plan(&problem.instance, &FROM, &TO);
    let t0 = std::time::Instant::now();
    let applied = migrate(&problem, &state, &driver, &FROM, &TO).unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    assert!(applied.complete);
    // The fake records a violation if two moves ever share a VM at once.
    assert_consistent(&state, &driver.world());
    assert!(
        driver.max_parallel_moves() >= 2,
        "moves on distinct VMs ran in parallel"
    );
    // What the dispatcher expects (the better of the plan's order and the
    // greedy rule), the lower bound (the busiest VM's moves back to back)
    // and the serial sum, all at the modelled durations.
    let inst = &problem.instance;
    let timed = plan.timed();
    let d = Dispatcher::new(&timed, inst.n_vms(), &plan.queues);
    let expected = d.simulate(&timed) * scale;
    let mut load = vec![0.0; inst.n_vms()];
    for &(a, b, t) in &timed {
        load[a as usize] += t;
        load[b as usize] += t;
    }
    let bound = load.iter().cloned().fold(0.0, f64::max) * scale;
    let serial: f64 = timed.iter().map(|m| m.2).sum::<f64>() * scale;
    let planned_moves = plan.moves.iter().map(|m| m.start_s + m.duration_s).fold(0.0, f64::max) * scale;
    eprintln!("moves: lower bound {bound:.3} s, dispatcher {expected:.3} s, cost::plan order {planned_moves:.3} s, serial {serial:.3} s; measured (with suspend/resume) {elapsed:.3} s");
    assert!(expected <= planned_moves + 1e-9);
    assert!(
        elapsed >= 0.95 * bound,
        "faster than the busiest VM allows: {elapsed} < {bound}"
    );
    assert!(
        elapsed < expected + 0.5 * (serial - expected),
        "not parallel enough: {elapsed} s vs expected {expected} s, serial {serial} s"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Random placements and a random fault: never a lost or doubled vnode.
    #[test]
    fn no_vnode_is_ever_lost(
        from in proptest::collection::vec(0u32..6, 12),
        to in proptest::collection::vec(0u32..6, 12),
        step in proptest::sample::select(vec![Step::Suspend, Step::Checkpoint, Step::Transfer, Step::Restore, Step::Reattach, Step::Resume, Step::Remove]),
        nth in 1usize..5,
        after in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let problem = problem(dir.path());
        let state = StateDir::open(dir.path().join("state")).unwrap();
        let world = deployed(&problem, &state, &from);
        let fault = if after { Fault::FailAfter { step, nth } } else { Fault::Fail { step, nth } };
        let driver = FakeDriver::new(world).with_fault(fault);
        let applied = migrate(&problem, &state, &driver, &from, &to).unwrap();
        let vm_of = assert_consistent(&state, &driver.world());
        if applied.complete {
            prop_assert_eq!(vm_of, problem.placement_of(&to).vm_of);
        }
    }
}

/// Pre-copy's step (memory copied ahead, before the pause) failing or
/// crashing at its 1st to 3rd call, before or after its effect: nothing has
/// moved yet, so every vnode runs where it did (exit 3), and a crash is
/// taken up both ways.
#[test]
fn a_failed_or_crashed_pre_copy_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem(dir.path());
    let state = StateDir::open(dir.path().join("state")).unwrap();
    let world = deployed(&problem, &state, &FROM);
    let driver = FakeDriver::new(world).with_pre_copy();
    let applied = migrate(&problem, &state, &driver, &FROM, &TO).unwrap();
    assert!(applied.complete, "{:?}", applied.failures);
    assert_eq!(
        assert_consistent(&state, &driver.world()),
        problem.placement_of(&TO).vm_of
    );
    for nth in 1..=3 {
        for fault in [
            Fault::Fail {
                step: Step::PreCopy,
                nth,
            },
            Fault::FailAfter {
                step: Step::PreCopy,
                nth,
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            let state = StateDir::open(dir.path().join("state")).unwrap();
            let world = deployed(&problem, &state, &FROM);
            let driver = FakeDriver::new(world).with_pre_copy().with_fault(fault.clone());
            let applied = migrate(&problem, &state, &driver, &FROM, &TO).unwrap();
            assert!(!applied.complete, "{fault:?}");
            assert!(
                applied.failures.iter().any(|f| f.contains("pre-copy")),
                "{:?}",
                applied.failures
            );
            let vm_of = assert_consistent(&state, &driver.world());
            assert_eq!(vm_of, problem.placement_of(&FROM).vm_of, "{fault:?}: nothing moved");
            assert_eq!(applied.into_result(&state).unwrap_err().exit_code(), 3);
        }
        for direction in [Direction::Resume, Direction::Rollback] {
            let dir = tempfile::tempdir().unwrap();
            let state = StateDir::open(dir.path().join("state")).unwrap();
            let world = deployed(&problem, &state, &FROM);
            let driver = FakeDriver::new(world).with_pre_copy().with_fault(Fault::Crash {
                step: Step::PreCopy,
                nth,
            });
            let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                migrate(&problem, &state, &driver, &FROM, &TO)
            }));
            assert!(crashed.is_err(), "the injected crash happened");
            let driver = FakeDriver::new(driver.world()).with_pre_copy();
            take_up(&problem, &state, &driver, direction, &format!("pre-copy {nth}"));
        }
    }
}
