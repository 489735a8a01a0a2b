//! T_r in the three migration modes (model §3.1) against hand-computed cases
//! and on random instances: stop-copy is §3's formula whatever the other
//! modes' constants; a post-copy pause does not grow with memory; pre-copy
//! never pauses longer than stop-copy; and in every mode the placer only
//! offers a change with χ < 0 and prices moves as `cost::t_r` does.

use netbalance::cost::migration::per_vm_costs;
use netbalance::cost::modes::move_cost;
use netbalance::cost::{self, Instance, Load, Window};
use netbalance::model::{Costs, Link, MigrationMode, PostCopyCosts, PreCopyCosts, Testbed, Topology, Vnode};
use netbalance::place::evaluator::{Evaluator, Move};
use netbalance::place::{self, Budget, Constraints, PlaceOptions};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MODES: [MigrationMode; 3] = [MigrationMode::StopCopy, MigrationMode::PostCopy, MigrationMode::PreCopy];

/// A random instance: `n` vnodes of random memory and (sometimes) dirty
/// rate, a chain of links, `hosts × cpus` VMs, random per-mode constants.
fn instance(seed: u64, n: usize, hosts: usize, cpus: usize) -> (Topology, Testbed, Costs) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let vnodes: Vec<Vnode> = (0..n)
        .map(|i| Vnode {
            memory_mb: rng.gen_range(0.0..300.0),
            dirty_mb_s: rng.gen_bool(0.5).then(|| rng.gen_range(0.0..200.0)),
            cpu: Some(rng.gen_range(0.0..0.5)),
            ..Vnode::new(format!("n{i}"))
        })
        .collect();
    let links = (1..n)
        .map(|i| Link::new(format!("n{}", i - 1), format!("n{i}"), rng.gen_range(1.0..300.0)))
        .collect();
    let costs = Costs {
        post_copy: PostCopyCosts {
            state_dump_ms: rng.gen_range(0.0..200.0),
            state_restore_ms: rng.gen_range(0.0..200.0),
            fault_fraction: rng.gen_range(0.0..=1.0),
        },
        pre_copy: PreCopyCosts {
            dirty_mb_s: rng.gen_range(0.0..100.0),
            max_rounds: rng.gen_range(0..10),
            stop_mb: rng.gen_range(0.0..20.0),
            round_fraction: rng.gen_range(0.0..=1.0),
        },
        ..Costs::default()
    };
    (
        Topology { vnodes, links },
        Testbed::generate(hosts, cpus, 1000.0),
        costs,
    )
}

fn assignment(rng: &mut ChaCha8Rng, n: usize, vms: usize) -> Vec<u32> {
    (0..n).map(|_| rng.gen_range(0..vms as u32)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// T_r straight from model §3 (stop-and-copy), by VM index.
fn reference_stop_copy(t: &Topology, tb: &Testbed, c: &Costs, from: &[u32], to: &[u32]) -> f64 {
    let host: Vec<usize> = tb.vms().map(|(h, _)| h).collect();
    let mut count = vec![0.0; host.len()];
    from.iter().for_each(|&v| count[v as usize] += 1.0);
    let mut sum = vec![None::<f64>; host.len()];
    for (n, (&a, &b)) in from.iter().zip(to).enumerate() {
        if a != b {
            let x = if host[a as usize] == host[b as usize] {
                c.transfer_ms_per_mb.host
            } else {
                c.transfer_ms_per_mb.net
            };
            let mig = t.vnodes[n].memory_mb * (c.snapshot_ms_per_mb + x + c.restore_ms_per_mb) + c.reattach_ms;
            for v in [a, b] {
                *sum[v as usize].get_or_insert(0.0) += mig;
            }
        }
    }
    sum.iter()
        .enumerate()
        .filter_map(|(v, s)| s.map(|s| (c.suspend_ms + c.resume_ms) * count[v] + s))
        .fold(0.0, f64::max)
        / 1000.0
}

#[test]
fn one_move_by_hand_in_each_mode() {
    // a: 100 MB on h0-v0, moved to h1-v0 (across hosts), dirtying 2 MB/s.
    let tb = Testbed::generate(2, 1, 1000.0);
    let topo = Topology {
        vnodes: vec![Vnode {
            memory_mb: 100.0,
            dirty_mb_s: Some(2.0),
            ..Vnode::new("a")
        }],
        links: vec![],
    };
    let inst = |mode| Instance::new(&topo, &tb, Costs::default()).with_mode(mode);
    let fixed = 6.0 + 3.5; // suspend + resume of the one vnode on h0-v0
    let stop = cost::t_r(&inst(MigrationMode::StopCopy), &[0], &[1]);
    assert!(
        close(stop, (fixed + 100.0 * (4.6 + 15.0 + 1.8) + 200.0) / 1000.0),
        "{stop}"
    );
    // post-copy: pause 40 + 70 + 200 ms; 10 % of 100·15 ms lost to faults
    let post = cost::estimate(&inst(MigrationMode::PostCopy), &[0], &[1]);
    assert!(close(post.by_phase.total(), (fixed + 40.0 + 70.0 + 200.0) / 1000.0));
    assert!(close(post.live_s, 0.150) && close(post.total_s, post.by_phase.total() + 0.150));
    assert_eq!(post.by_phase.transfer_s, 0.0);
    // pre-copy: q = 2·19.6/1000; D = 100, 3.92, 0.153664 (≤ 1 MB: stop)
    let pre = cost::estimate(&inst(MigrationMode::PreCopy), &[0], &[1]);
    let last = 100.0 * 0.0392 * 0.0392;
    assert!(close(pre.by_phase.snapshot_s, last * 4.6 / 1000.0));
    assert!(close(pre.by_phase.transfer_s, last * 15.0 / 1000.0));
    assert!(close(pre.by_phase.restore_s, 100.0 * 1.8 / 1000.0));
    assert!(close(pre.live_s, 0.05 * (100.0 + 3.92) * 19.6 / 1000.0));
    assert!(pre.by_phase.total() < post.by_phase.total() + 0.180 && pre.total_s < stop);
}

#[test]
fn old_profiles_load_and_bad_constants_are_refused() {
    let c: Costs = serde_json::from_str(r#"{"suspend_ms": 5, "reattach_ms": 100}"#).unwrap();
    assert_eq!(
        (c.post_copy, c.pre_copy),
        (PostCopyCosts::default(), PreCopyCosts::default())
    );
    let c: Costs = serde_json::from_str(r#"{"post_copy": {"fault_fraction": 0.5}}"#).unwrap();
    assert_eq!(c.post_copy.fault_fraction, 0.5);
    assert_eq!(c.post_copy.state_dump_ms, PostCopyCosts::default().state_dump_ms);
    assert!(serde_json::from_str::<Costs>(r#"{"post_copy": {"lazy": 1}}"#).is_err());
    for (json, field) in [
        (r#"{"post_copy": {"fault_fraction": 1.5}}"#, "post_copy.fault_fraction"),
        (r#"{"pre_copy": {"round_fraction": -0.1}}"#, "pre_copy.round_fraction"),
        (r#"{"pre_copy": {"dirty_mb_s": -1}}"#, "pre_copy.dirty_mb_s"),
        (r#"{"pre_copy": {"max_rounds": 101}}"#, "pre_copy.max_rounds"),
        (r#"{"post_copy": {"state_dump_ms": -3}}"#, "post_copy.state_dump_ms"),
    ] {
        let c: Costs = serde_json::from_str(json).unwrap();
        assert_eq!(c.check().unwrap_err().0, field, "{json}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Stop-copy is model §3 to the letter, whatever the post- and pre-copy constants.
    #[test]
    fn stop_copy_is_unchanged(seed in any::<u64>(), n in 1usize..30, hosts in 1usize..4, cpus in 1usize..4) {
        let (t, tb, costs) = instance(seed, n, hosts, cpus);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 1);
        let (from, to) = (assignment(&mut rng, n, tb.vm_count()), assignment(&mut rng, n, tb.vm_count()));
        let inst = Instance::new(&t, &tb, costs.clone());
        prop_assert_eq!(inst.mode, MigrationMode::StopCopy);
        let plain = Instance::new(&t, &tb, Costs { post_copy: Default::default(), pre_copy: Default::default(), ..costs.clone() });
        let reference = reference_stop_copy(&t, &tb, &costs, &from, &to);
        prop_assert!(close(cost::t_r(&inst, &from, &to), reference));
        prop_assert_eq!(cost::estimate(&inst, &from, &to), cost::estimate(&plain, &from, &to));
        prop_assert_eq!(cost::estimate(&inst, &from, &to).live_s, 0.0);
    }

    /// A post-copy pause (per VM, and the plan's makespan) is the same whatever
    /// the vnodes' memory; only the time lost to faults after resume grows with it.
    #[test]
    fn post_copy_pause_is_independent_of_memory(seed in any::<u64>(), n in 1usize..30, hosts in 1usize..4, cpus in 1usize..4, scale in 0.0f64..50.0) {
        let (t, tb, costs) = instance(seed, n, hosts, cpus);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 2);
        let (from, to) = (assignment(&mut rng, n, tb.vm_count()), assignment(&mut rng, n, tb.vm_count()));
        let mut big = t.clone();
        big.vnodes.iter_mut().for_each(|v| v.memory_mb *= scale);
        let small = Instance::new(&t, &tb, costs.clone()).with_mode(MigrationMode::PostCopy);
        let large = Instance::new(&big, &tb, costs).with_mode(MigrationMode::PostCopy);
        for (a, b) in per_vm_costs(&small, &from, &to).iter().zip(per_vm_costs(&large, &from, &to)) {
            prop_assert_eq!(a.map(|c| c.phases), b.map(|c| c.phases));
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(close(a.live_s * scale, b.live_s));
            }
        }
        prop_assert!(close(cost::plan(&small, &from, &to).makespan_s, cost::plan(&large, &from, &to).makespan_s));
    }

    /// Pre-copy never pauses longer than stop-copy for the same move, and with
    /// no rounds it is stop-copy.
    #[test]
    fn pre_copy_pauses_no_longer_than_stop_copy(seed in any::<u64>(), n in 1usize..30, hosts in 1usize..4, cpus in 1usize..4) {
        let (t, tb, costs) = instance(seed, n, hosts, cpus);
        let stop = Instance::new(&t, &tb, costs.clone());
        let pre = stop.clone().with_mode(MigrationMode::PreCopy);
        let none = Instance::new(&t, &tb, Costs { pre_copy: PreCopyCosts { max_rounds: 0, ..costs.pre_copy }, ..costs })
            .with_mode(MigrationMode::PreCopy);
        for node in 0..n {
            for to in 0..tb.vm_count() as u32 {
                let s = move_cost(&stop, node, 0, to);
                prop_assert!(move_cost(&pre, node, 0, to).pause() <= s.pause() * (1.0 + 1e-12));
                prop_assert_eq!(move_cost(&none, node, 0, to), s);
            }
        }
    }

    /// In every mode the placer's incremental T_r is `cost::t_r`, and a
    /// re-placement is either no change or a change with χ < 0 in that mode:
    /// χ ≥ 0 never migrates.
    #[test]
    fn chi_non_negative_never_migrates_in_any_mode(seed in any::<u64>(), n in 2usize..25, hosts in 1usize..3, cpus in 1usize..4,
                                                   moves in 0u64..3000, tp in 1.0f64..30.0, steps in 1usize..30) {
        let (t, tb, costs) = instance(seed, n, hosts, cpus);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 3);
        let current = assignment(&mut rng, n, tb.vm_count());
        for mode in MODES {
            let inst = Instance::new(&t, &tb, costs.clone()).with_mode(mode);
            let load: Load = inst.expected_load(&t);
            let mut ev = Evaluator::new(&inst, &load, current.clone(), Some(&current));
            let mut assign = current.clone();
            for _ in 0..steps {
                let mv = Move::Relocate { vnode: rng.gen_range(0..n as u32), to: rng.gen_range(0..tb.vm_count() as u32) };
                let Move::Relocate { vnode, to } = mv else { unreachable!() };
                if assign[vnode as usize] == to { continue; }
                ev.apply(mv);
                assign[vnode as usize] = to;
                prop_assert!(close(ev.score().t_r, cost::t_r(&inst, &current, &assign)), "{mode}");
            }
            let window = Window { tp, to: 1.0 };
            let opts = PlaceOptions { budget: Budget::Moves(moves), seed, constraints: Constraints::default() };
            let out = place::replace(&inst, &load, window, &current, &opts);
            if out.changed {
                let chi = cost::chi_of(&inst, &load, window, &current, &out.assignment);
                prop_assert!(chi < 0.0, "{mode}: chi {chi}");
                prop_assert_eq!(out.chi, Some(chi));
            } else {
                prop_assert_eq!(&out.assignment, &current);
            }
        }
    }
}
