//! The accounting checked by hand, and what the model guarantees, by proptest.

use super::engine::{account, Decision, Settings};
use super::scenario::{routes_to, sink_load};
use crate::cost::{self, Instance, Load, Window};
use crate::model::{Costs, Link, Testbed, Topology, Vnode};
use crate::place::{self as placer, Budget, Outcome, PlaceOptions};
use proptest::prelude::*;

fn settings(epoch_s: f64, detect_s: f64) -> Settings {
    Settings {
        window: Window { tp: 10.0, to: 1.0 },
        epochs: 2,
        epoch_s,
        detect_s,
        rate_mbps: 10.0,
        c_proc: 0.0,
        moves: 0,
        initial_moves: 0,
    }
}

/// Three vnodes without links on one host with two VMs: τ is the larger VM's CPU.
fn three() -> Instance {
    let topo = Topology {
        vnodes: ["a", "b", "c"].map(Vnode::new).to_vec(),
        links: vec![],
    };
    Instance::new(&topo, &Testbed::generate(1, 2, 1e4), Costs::default())
}

fn cpu(v: [f64; 3]) -> Load {
    Load {
        cpu: v.to_vec(),
        rate: vec![],
    }
}

/// Always proposes `target`, with its true χ (as a placer would).
fn propose(inst: &Instance, target: Vec<u32>) -> impl FnMut(&Load, &[u32], usize) -> Outcome + '_ {
    move |load, current, _| {
        let chi = cost::chi_of(inst, load, Window { tp: 10.0, to: 1.0 }, current, &target);
        let changed = chi < 0.0;
        Outcome {
            assignment: if changed { target.clone() } else { current.to_vec() },
            tau: cost::tau(inst, load, &target),
            chi: Some(if changed { chi } else { 0.0 }),
            changed,
            moves_evaluated: 1,
        }
    }
}

/// φ0 = {a,b}|{c}. Epoch 0: a = 1 (τ 1). Epoch 1: a = 1, b = 2: τ(φ0) = 3,
/// φ′ = {a}|{b,c} has τ 2. Moving b (10 MB, same host) takes
/// 10·(4.6 + 13.1 + 1.8) + 200 = 395 ms; VM 0 also suspends and resumes its
/// 2 vnodes (2·6 + 2·3.5 ms): T_r = 0.414 s. χ = 9·2 + 0.414 − 9·3 < 0.
/// With: 100·1 + (1·3 + 0.414 + 9·2) + 90·2 = 301.414; without: 100·1 + 100·3.
#[test]
fn two_epochs_by_hand() {
    let inst = three();
    let loads = [cpu([1.0, 0.0, 0.0]), cpu([1.0, 2.0, 0.0])];
    let r = account(
        &inst,
        &settings(100.0, 0.0),
        &loads,
        vec![0, 0, 1],
        propose(&inst, vec![0, 1, 1]),
    );
    assert!((r.runtime_without - 400.0).abs() < 1e-9);
    assert!((r.runtime_with - 301.414).abs() < 1e-9, "{}", r.runtime_with);
    assert!((r.relative_runtime - 301.414 / 400.0).abs() < 1e-12);
    assert_eq!(r.windows.len(), 20);
    let w = &r.windows[10];
    assert_eq!(
        (w.t, w.epoch, w.predicted_epoch, w.decision, w.moved),
        (100.0, 1, 1, Decision::Migrate, 1)
    );
    assert!((w.t_r - 0.414).abs() < 1e-12 && (w.tau_before - 3.0).abs() < 1e-12 && (w.tau - 2.0).abs() < 1e-12);
    assert!((w.chi.unwrap() - (18.414 - 27.0)).abs() < 1e-9);
    assert!(r
        .windows
        .iter()
        .enumerate()
        .all(|(i, w)| (i == 10) == (w.decision != Decision::Skip)));
}

/// The change at 100 s is seen at 105 s: [100, 105) runs on φ0 at the new
/// load (5·3), then the optimiser's window starts at 105:
/// 100 + 15 + (3 + 0.414 + 18) + 85·2 = 306.414.
#[test]
fn detection_delay_is_paid_at_the_actual_load() {
    let inst = three();
    let loads = [cpu([1.0, 0.0, 0.0]), cpu([1.0, 2.0, 0.0])];
    let r = account(
        &inst,
        &settings(100.0, 5.0),
        &loads,
        vec![0, 0, 1],
        propose(&inst, vec![0, 1, 1]),
    );
    assert!((r.runtime_with - 306.414).abs() < 1e-9, "{}", r.runtime_with);
    let w = r.windows.iter().find(|w| w.decision == Decision::Migrate).unwrap();
    assert_eq!((w.t, w.t_end), (105.0, 115.0));
    let before = r.windows.iter().find(|w| w.t == 100.0).unwrap();
    assert_eq!(
        (before.t_end, before.epoch, before.predicted_epoch, before.decision),
        (105.0, 1, 0, Decision::Skip)
    );
}

/// When the gain cannot pay T_r (here: a tiny gain), nothing moves and the
/// runtime is exactly that of φ0.
#[test]
fn no_gain_no_migration() {
    let inst = three();
    let loads = [cpu([1.0, 0.0, 0.0]), cpu([1.0, 0.01, 0.0])];
    let r = account(
        &inst,
        &settings(100.0, 0.0),
        &loads,
        vec![0, 0, 1],
        propose(&inst, vec![0, 1, 1]),
    );
    assert_eq!(r.migrations, 0);
    assert!((r.runtime_with - r.runtime_without).abs() < 1e-9);
    assert_eq!(r.windows[10].decision, Decision::Stay);
}

/// Windows shorter than T_o (sink changes every 0.5 s) never migrate.
#[test]
fn windows_shorter_than_t_o_discard_the_answer() {
    let inst = three();
    let loads = [cpu([1.0, 0.0, 0.0]), cpu([1.0, 2.0, 0.0])];
    let r = account(
        &inst,
        &settings(0.5, 0.0),
        &loads,
        vec![0, 0, 1],
        propose(&inst, vec![0, 1, 1]),
    );
    assert_eq!(
        r.windows.iter().map(|w| w.decision).collect::<Vec<_>>(),
        vec![Decision::Skip, Decision::Short]
    );
    assert_eq!(r.migrations, 0);
}

/// A small random connected topology (a path plus random chords) with
/// loads from random sinks.
fn instance(n: usize, chords: &[(usize, usize)], hosts: usize, cpus: usize, memory: f64) -> Instance {
    let vnodes = (0..n)
        .map(|i| Vnode {
            memory_mb: memory,
            ..Vnode::new(format!("n{i}"))
        })
        .collect();
    let mut links: Vec<Link> = (1..n)
        .map(|i| Link::new(format!("n{}", i - 1), format!("n{i}"), 1000.0))
        .collect();
    let mut seen: std::collections::HashSet<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
    for &(a, b) in chords {
        let (a, b) = (a % n, b % n);
        let key = (a.min(b), a.max(b));
        if a != b && seen.insert(key) {
            links.push(Link::new(format!("n{}", key.0), format!("n{}", key.1), 1000.0));
        }
    }
    Instance::new(
        &Topology { vnodes, links },
        &Testbed::generate(hosts, cpus, 40_000.0),
        super::scenario::paper_costs(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the optimiser answers, a window migrates only on χ < 0, and a
    /// window that does not migrate keeps its placement and pays no T_r.
    #[test]
    fn migrates_only_on_negative_chi(
        n in 4usize..24, chords in prop::collection::vec((0usize..64, 0usize..64), 0..12),
        sinks in prop::collection::vec(0u32..24, 2..5), targets in prop::collection::vec(prop::collection::vec(0u32..4, 24), 4),
        changed in prop::collection::vec(any::<bool>(), 4), memory in 0.0f64..200.0,
    ) {
        let inst = instance(n, &chords, 2, 2, memory);
        let loads: Vec<Load> = sinks.iter().map(|&s| sink_load(&inst, &routes_to(&inst, s % n as u32), 10.0, 4e-5)).collect();
        let mut s = settings(20.0, 0.0);
        s.epochs = loads.len();
        let phi0 = vec![0u32; n];
        let r = account(&inst, &s, &loads, phi0, |load, current, k| {
            let target: Vec<u32> = targets[k % 4][..n].to_vec();
            let chi = cost::chi_of(&inst, load, s.window, current, &target);
            // a careless optimiser: may claim a change whatever χ is
            Outcome { assignment: target, tau: 0.0, chi: Some(chi), changed: changed[k % 4], moves_evaluated: 0 }
        });
        for w in &r.windows {
            if w.decision == Decision::Migrate {
                prop_assert!(w.chi.unwrap() < 0.0);
            } else {
                prop_assert_eq!(w.t_r, 0.0);
                prop_assert_eq!(w.moved, 0);
                prop_assert!((w.tau - w.tau_before).abs() < 1e-12);
            }
        }
    }

    /// With exact predictions (changes seen at once, epochs a multiple of
    /// T_p, so every optimised window runs its full T_p), no window runs
    /// longer than it would have on the placement in force before it.
    #[test]
    fn exact_predictions_never_slow_a_window(
        n in 4usize..30, chords in prop::collection::vec((0usize..64, 0usize..64), 0..16),
        sinks in prop::collection::vec(0u32..30, 2..5), memory in 0.0f64..100.0, seed in 0u64..1000,
    ) {
        let inst = instance(n, &chords, 2, 2, memory);
        let loads: Vec<Load> = sinks.iter().map(|&s| sink_load(&inst, &routes_to(&inst, s % n as u32), 10.0, 4e-5)).collect();
        let mut s = settings(30.0, 0.0);
        s.epochs = loads.len();
        let opts = PlaceOptions { budget: Budget::Moves(2_000), seed, constraints: Default::default() };
        let phi0 = placer::initial(&inst, &loads[0], &opts).assignment;
        let r = account(&inst, &s, &loads, phi0, |load, current, _| placer::replace(&inst, load, s.window, current, &opts));
        for w in &r.windows {
            prop_assert!(w.real_s <= (w.t_end - w.t) * w.tau_before + 1e-9, "{:?}", w);
        }
    }
}
