//! The accounting checked by hand, and what the model guarantees, by proptest.

use super::drive::{self, optimised, RunResult, Settings};
use super::scenario::{routes_to, sink_load};
use crate::balance::{Decision, Reason, Replacer, Request};
use crate::cost::{self, Assignment, Instance, Load, Window};
use crate::model::{Costs, Link, Testbed, Topology, Vnode};
use crate::place::{self as placer, Budget, PlaceOptions};
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

/// An optimiser that answers `answer(request)`.
struct Scripted<F>(F);

impl<F: FnMut(&Request) -> Assignment> Replacer for Scripted<F> {
    fn replace(&mut self, req: &Request<'_>) -> crate::Result<Assignment> {
        Ok((self.0)(req))
    }
}

/// Always proposes `target` when its χ is negative (as a placer would).
fn propose(target: Vec<u32>) -> Scripted<impl FnMut(&Request) -> Assignment> {
    Scripted(move |req: &Request| {
        let chi = cost::chi_of(req.inst, req.load, req.window, req.current, &target);
        if chi < 0.0 {
            target.clone()
        } else {
            req.current.to_vec()
        }
    })
}

fn account(inst: &Instance, s: &Settings, loads: &[Load], phi0: Vec<u32>, optimiser: &mut dyn Replacer) -> RunResult {
    drive::account(inst, s, loads, phi0, optimiser).unwrap()
}

fn migrated(r: &RunResult) -> Vec<&crate::balance::WindowRecord> {
    r.windows
        .iter()
        .map(|w| &w.record)
        .filter(|w| w.decision == Decision::Changed)
        .collect()
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
        &mut propose(vec![0, 1, 1]),
    );
    assert!((r.runtime_without() - 400.0).abs() < 1e-9);
    assert!((r.runtime_with() - 301.414).abs() < 1e-9, "{}", r.runtime_with());
    assert!((r.relative_runtime() - 301.414 / 400.0).abs() < 1e-12);
    assert_eq!(r.windows.len(), 20);
    let w = &r.windows[10];
    assert_eq!(
        (
            w.record.t,
            w.epoch,
            w.predicted_epoch,
            w.record.decision,
            w.record.moved.len()
        ),
        (100.0, 1, 1, Decision::Changed, 1)
    );
    let x = &w.record;
    assert!((x.t_r - 0.414).abs() < 1e-12 && (x.tau_now - 3.0).abs() < 1e-12 && (x.tau_after - 2.0).abs() < 1e-12);
    // the window: 1 s on φ0 at τ 3, the pause, 9 s on φ′ at τ 2
    assert!((x.real_s - 21.414).abs() < 1e-9 && (x.tau_actual - 2.1).abs() < 1e-12);
    assert!((x.chi.unwrap() - (18.414 - 27.0)).abs() < 1e-9);
    assert!(r
        .windows
        .iter()
        .enumerate()
        .all(|(i, w)| (i == 10) == (w.record.reason != Reason::PredictionUnchanged)));
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
        &mut propose(vec![0, 1, 1]),
    );
    assert!((r.runtime_with() - 306.414).abs() < 1e-9, "{}", r.runtime_with());
    let w = migrated(&r);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].t, w[0].length_s), (105.0, 10.0));
    let before = r.windows.iter().find(|w| w.record.t == 100.0).unwrap();
    assert_eq!(
        (
            before.record.length_s,
            before.epoch,
            before.predicted_epoch,
            before.record.reason
        ),
        (5.0, 1, 0, Reason::PredictionUnchanged)
    );
    // paid at the actual load: 5 s on φ0 at τ 3
    assert!((before.record.real_s - 15.0).abs() < 1e-12 && (before.record.tau_now - 1.0).abs() < 1e-12);
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
        &mut propose(vec![0, 1, 1]),
    );
    assert_eq!(r.migrations(), 0);
    assert!((r.runtime_with() - r.runtime_without()).abs() < 1e-9);
    assert_eq!(
        (r.windows[10].record.decision, r.windows[10].record.reason),
        (Decision::Kept, Reason::NoCandidate)
    );
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
        &mut propose(vec![0, 1, 1]),
    );
    assert_eq!(
        r.windows.iter().map(|w| w.record.reason).collect::<Vec<_>>(),
        vec![Reason::PredictionUnchanged, Reason::WindowTooShort]
    );
    assert_eq!(r.migrations(), 0);
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
        // a careless optimiser: proposes a change whatever its χ
        let mut optimiser = Scripted(|req: &Request| {
            let k = req.number as usize;
            if changed[k % 4] { targets[k % 4][..n].to_vec() } else { req.current.to_vec() }
        });
        let r = account(&inst, &s, &loads, phi0, &mut optimiser);
        for w in r.windows.iter().map(|w| &w.record) {
            if w.decision == Decision::Changed {
                prop_assert!(w.chi.unwrap() < 0.0);
                let chi = cost::chi(s.window, w.tau_now, w.tau_candidate, w.t_r);
                prop_assert!((chi - w.chi.unwrap()).abs() < 1e-9);
            } else {
                // no pause: the window ran on the placement in force at the actual load
                prop_assert!(w.moved.is_empty());
                prop_assert!((w.real_s - w.tau_actual * w.length_s).abs() < 1e-9 * (1.0 + w.real_s));
                prop_assert!((w.tau_after - w.tau_now).abs() < 1e-12);
            }
            prop_assert_eq!(w.chi.is_some(), optimised(w));
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
        let mut optimiser = Scripted(|req: &Request| placer::replace(req.inst, req.load, req.window, req.current, &opts).assignment);
        let r = account(&inst, &s, &loads, phi0, &mut optimiser);
        for w in r.windows.iter().map(|w| &w.record) {
            // the prediction is exact, so τ_now is τ of the placement before, at the actual load
            prop_assert!(w.real_s <= w.length_s * w.tau_now + 1e-9, "{:?}", w);
        }
    }
}
