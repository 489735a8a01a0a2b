//! The cost model against hand-computed cases and against a reference
//! implementation written straight from model §2–4 (strings and maps, no
//! indices), to 1e-9 on random inputs.

use netbalance::cost::{self, chi, Instance, Window};
use netbalance::model::{Costs, Link, Placement, Testbed, Topology, Vnode};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

fn topo(vnodes: &[(&str, f64, f64)], links: &[(&str, &str, f64, Option<f64>)]) -> Topology {
    Topology {
        vnodes: vnodes
            .iter()
            .map(|&(id, cpu, mem)| Vnode {
                id: id.into(),
                memory_mb: mem,
                cpu: Some(cpu),
                run: None,
                dirty_mb_s: None,
            })
            .collect(),
        links: links
            .iter()
            .map(|&(a, b, mbps, rate)| Link {
                a: a.into(),
                b: b.into(),
                mbps,
                delay_ms: 0.0,
                rate,
            })
            .collect(),
    }
}

#[test]
fn tau_by_hand_across_classes() {
    // 2 hosts × 2 VMs, NIC 100 Mbit/s. a,b on h0-v0; c on h0-v1; d on h1-v0.
    let tb = Testbed::generate(2, 2, 100.0);
    let t = topo(
        &[("a", 0.1, 10.0), ("b", 0.2, 10.0), ("c", 0.05, 10.0), ("d", 0.0, 10.0)],
        &[
            ("a", "b", 100.0, Some(40.0)),
            ("b", "c", 100.0, Some(30.0)),
            ("c", "d", 100.0, Some(20.0)),
        ],
    );
    let inst = Instance::new(&t, &tb, Costs::default());
    let load = inst.expected_load(&t);
    let assign = [0, 0, 1, 2];
    let l = cost::loads(&inst, &load, &assign);
    // h0-v0: 0.1 + 0.2 + 40·0.0005 (vm, once) + 30·0.002 (host) = 0.38
    assert!((l.vm[0] - 0.38).abs() < 1e-12);
    // h0-v1: 0.05 + 30·0.002 + 20·0.004 = 0.19
    assert!((l.vm[1] - 0.19).abs() < 1e-12);
    // h1-v0: 20·0.004 = 0.08; h1-v1 idle
    assert!((l.vm[2] - 0.08).abs() < 1e-12);
    assert_eq!(l.vm[3], 0.0);
    // NIC: only c–d crosses hosts: 20 Mbit/s on each host
    assert_eq!(l.nic, vec![20.0, 20.0]);
    // τ = max(0.38, 20/100) = 0.38
    assert!((cost::tau(&inst, &load, &assign) - 0.38).abs() < 1e-12);
    let r = cost::report(&inst, &load, &assign);
    assert_eq!((r.bottleneck.kind, r.bottleneck.name.as_str()), ("vm", "h0-v0"));
}

#[test]
fn nic_can_be_the_bottleneck() {
    let tb = Testbed::generate(2, 1, 10.0);
    let t = topo(&[("a", 0.0, 1.0), ("b", 0.0, 1.0)], &[("a", "b", 100.0, Some(50.0))]);
    let inst = Instance::new(&t, &tb, Costs::default());
    let load = inst.expected_load(&t);
    // 50 Mbit/s through a 10 Mbit/s NIC: τ = 5; CPU only 50·0.004 = 0.2
    assert!((cost::tau(&inst, &load, &[0, 1]) - 5.0).abs() < 1e-12);
    let r = cost::report(&inst, &load, &[0, 1]);
    assert_eq!((r.bottleneck.kind, r.bottleneck.name.as_str()), ("nic", "h0"));
}

#[test]
fn t_r_by_hand() {
    // 2 hosts × 2 VMs. h0-v0 holds a (10 MB), b (20 MB), c (5 MB); h0-v1 holds d.
    let tb = Testbed::generate(2, 2, 1000.0);
    let t = topo(
        &[("a", 0.0, 10.0), ("b", 0.0, 20.0), ("c", 0.0, 5.0), ("d", 0.0, 1.0)],
        &[],
    );
    let inst = Instance::new(&t, &tb, Costs::default());
    let from = [0, 0, 0, 1];
    // a → h0-v1 (same host), b → h1-v0 (other host)
    let to = [1, 2, 0, 1];
    let mig_a = 10.0 * (4.6 + 13.1 + 1.8) + 200.0; // 395 ms
    let mig_b = 20.0 * (4.6 + 15.0 + 1.8) + 200.0; // 628 ms
    let v0 = 6.0 * 3.0 + mig_a + mig_b + 3.5 * 3.0; // 1051.5 ms
    let v1 = 6.0 * 1.0 + mig_a + 3.5 * 1.0; // 404.5 ms
    let v2 = mig_b; // empty VM before the move: 628 ms
    let est = cost::estimate(&inst, &from, &to);
    assert!((est.total_s - v0 / 1000.0).abs() < 1e-12);
    assert_eq!(est.critical_vm.as_deref(), Some("h0-v0"));
    assert!((est.by_vm["h0-v1"] - v1 / 1000.0).abs() < 1e-12);
    assert!((est.by_vm["h1-v0"] - v2 / 1000.0).abs() < 1e-12);
    assert!((est.by_phase.total() - est.total_s).abs() < 1e-12);
    assert!((est.by_phase.transfer_s - (10.0 * 13.1 + 20.0 * 15.0) / 1000.0).abs() < 1e-12);
    assert_eq!(est.by_vm.len(), 3);
    let plan = cost::plan(&inst, &from, &to).render(&inst);
    assert_eq!(plan.moves.len(), 2);
    // both moves touch h0-v0: they run one after another
    assert!(plan.makespan_s + 1e-12 >= (mig_a + mig_b) / 1000.0);
    assert_eq!(plan.schedule["h0-v0"].len(), 2);
}

#[test]
fn chi_by_hand() {
    let w = Window { tp: 8.0, to: 0.5 };
    // 7.5 s at τ 1.2 plus 0.9 s pause vs 7.5 s at τ 2.0: 9.9 − 15 = −5.1
    assert!((chi(w, 2.0, 1.2, 0.9) - (-5.1)).abs() < 1e-12);
    // a gain too small for the pause
    assert!(chi(w, 2.0, 1.95, 0.9) > 0.0);
}

#[test]
fn costs_profile_overrides_defaults() {
    let tb = Testbed::generate(1, 2, 1000.0);
    let t = topo(&[("a", 0.0, 10.0)], &[]);
    let costs = Costs {
        reattach_ms: 0.0,
        ..Costs::default()
    };
    let inst = Instance::new(&t, &tb, costs);
    let expected = 6.0 + 10.0 * (4.6 + 13.1 + 1.8) + 3.5;
    assert!((cost::t_r(&inst, &[0], &[1]) - expected / 1000.0).abs() < 1e-12);
}

// ---- reference implementation, straight from model §2–3 -------------------------

fn reference_tau(t: &Topology, tb: &Testbed, p: &Placement, c: &Costs) -> f64 {
    let host_of: HashMap<&str, &str> = tb
        .hosts
        .iter()
        .flat_map(|h| h.vms.iter().map(move |v| (v.name.as_str(), h.name.as_str())))
        .collect();
    let mut l: BTreeMap<&str, f64> = BTreeMap::new();
    let mut nic: BTreeMap<&str, f64> = BTreeMap::new();
    for n in &t.vnodes {
        *l.entry(p.vm_of[&n.id].as_str()).or_default() += n.cpu.unwrap_or(0.0);
    }
    for e in &t.links {
        let (va, vb) = (p.vm_of[&e.a].as_str(), p.vm_of[&e.b].as_str());
        let (ha, hb) = (host_of[va], host_of[vb]);
        let rate = e.rate.unwrap_or(e.mbps);
        let k = if va == vb {
            c.cpu_per_mbit.vm
        } else if ha == hb {
            c.cpu_per_mbit.host
        } else {
            c.cpu_per_mbit.net
        };
        *l.entry(va).or_default() += rate * k;
        if va != vb {
            *l.entry(vb).or_default() += rate * k;
        }
        if ha != hb {
            *nic.entry(ha).or_default() += rate;
            *nic.entry(hb).or_default() += rate;
        }
    }
    let mut tau: f64 = 0.0;
    for h in &tb.hosts {
        tau = tau.max(nic.get(h.name.as_str()).copied().unwrap_or(0.0) / h.nic_mbps);
        for v in &h.vms {
            tau = tau.max(l.get(v.name.as_str()).copied().unwrap_or(0.0) / v.capacity);
        }
    }
    tau
}

fn reference_t_r(t: &Topology, tb: &Testbed, p: &Placement, q: &Placement, c: &Costs) -> f64 {
    let local: std::collections::HashSet<&str> = tb
        .hosts
        .iter()
        .flat_map(|h| h.vms.iter().filter(|v| v.ssh.is_none()).map(|v| v.name.as_str()))
        .collect();
    let host_of: HashMap<&str, &str> = tb
        .hosts
        .iter()
        .flat_map(|h| h.vms.iter().map(move |v| (v.name.as_str(), h.name.as_str())))
        .collect();
    let mut per_vm: BTreeMap<&str, f64> = BTreeMap::new();
    let (mut shared, mut shared_vms) = (0.0, Vec::new());
    for n in &t.vnodes {
        let (from, to) = (p.vm_of[&n.id].as_str(), q.vm_of[&n.id].as_str());
        if from == to {
            continue;
        }
        let tr = if host_of[from] == host_of[to] {
            c.transfer_ms_per_mb.host
        } else {
            c.transfer_ms_per_mb.net
        };
        let fixed = if n.memory_mb > 0.0 { c.checkpoint_ms } else { 0.0 };
        let mig = fixed + n.memory_mb * (c.snapshot_ms_per_mb + tr + c.restore_ms_per_mb) + c.reattach_ms;
        *per_vm.entry(from).or_default() += mig;
        *per_vm.entry(to).or_default() += mig;
        if local.contains(from) && local.contains(to) {
            shared += mig;
            shared_vms.extend([from, to]);
        }
    }
    let count = |vm: &str| p.vm_of.values().filter(|v| v.as_str() == vm).count() as f64;
    let busiest = per_vm
        .iter()
        .map(|(vm, mig)| (c.suspend_ms * count(vm) + mig + c.resume_ms * count(vm)) / 1000.0)
        .fold(0.0, f64::max);
    // With local_cpus, the local VMs' moves also share that many CPUs.
    let machine = match tb.local_cpus {
        Some(cpus) if !shared_vms.is_empty() => {
            let most = local.iter().map(|vm| count(vm)).fold(0.0, f64::max);
            (c.suspend_ms * most + shared / f64::from(cpus) + c.resume_ms * most) / 1000.0
        }
        _ => 0.0,
    };
    busiest.max(machine)
}

#[derive(Debug, Clone)]
struct Case {
    hosts: usize,
    cpus: usize,
    nic: f64,
    vnodes: Vec<(f64, f64)>,
    links: Vec<(usize, usize, f64)>,
    from: Vec<usize>,
    to: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..4, 1usize..4, 1.0f64..1e4, 2usize..12).prop_flat_map(|(hosts, cpus, nic, n)| {
        let vms = hosts * cpus;
        (
            Just((hosts, cpus, nic)),
            prop::collection::vec((0.0f64..2.0, 0.0f64..200.0), n),
            prop::collection::vec((0..n, 0..n, 0.0f64..1000.0), 0..20),
            prop::collection::vec(0..vms, n),
            prop::collection::vec(0..vms, n),
        )
            .prop_map(|((hosts, cpus, nic), vnodes, links, from, to)| Case {
                hosts,
                cpus,
                nic,
                vnodes,
                links,
                from,
                to,
            })
    })
}

impl Case {
    fn build(&self) -> (Topology, Testbed, Placement, Placement) {
        let tb = Testbed::generate(self.hosts, self.cpus, self.nic);
        let mut t = Topology::default();
        for (i, &(cpu, mem)) in self.vnodes.iter().enumerate() {
            t.vnodes.push(Vnode {
                id: format!("n{i}"),
                memory_mb: mem,
                cpu: Some(cpu),
                run: None,
                dirty_mb_s: None,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for &(a, b, rate) in &self.links {
            if a != b && seen.insert((a.min(b), a.max(b))) {
                t.links.push(Link {
                    a: format!("n{a}"),
                    b: format!("n{b}"),
                    mbps: 1000.0,
                    delay_ms: 0.0,
                    rate: Some(rate),
                });
            }
        }
        let names: Vec<String> = tb.vms().map(|(_, v)| v.name.clone()).collect();
        let place = |a: &[usize]| Placement {
            vm_of: a
                .iter()
                .enumerate()
                .map(|(i, &v)| (format!("n{i}"), names[v].clone()))
                .collect(),
            ..Placement::default()
        };
        let (p, q) = (place(&self.from), place(&self.to));
        (t, tb, p, q)
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #[test]
    fn tau_and_t_r_match_the_reference(c in case()) {
        let (t, tb, p, q) = c.build();
        let costs = Costs::default();
        let inst = Instance::new(&t, &tb, costs.clone());
        let load = inst.expected_load(&t);
        let (from, to) = (inst.assignment(&p), inst.assignment(&q));
        prop_assert!(close(cost::tau(&inst, &load, &from), reference_tau(&t, &tb, &p, &costs)));
        prop_assert!(close(cost::t_r(&inst, &from, &to), reference_t_r(&t, &tb, &p, &q, &costs)));
        prop_assert!(close(cost::report(&inst, &load, &from).tau, cost::tau(&inst, &load, &from)));
        let est = cost::estimate(&inst, &from, &to);
        prop_assert!(close(est.by_phase.total(), est.total_s));
    }

    #[test]
    fn t_r_with_fixed_checkpoint_and_shared_local_cpus_matches_the_reference(
        c in case(),
        checkpoint in 0.0f64..300.0,
        cpus in proptest::option::of(1u32..6),
        remote in 0usize..4,
    ) {
        let (t, mut tb, p, q) = c.build();
        tb.local_cpus = cpus;
        // Some VMs reached over SSH: their moves are not shared out.
        for (i, vm) in tb.hosts.iter_mut().flat_map(|h| h.vms.iter_mut()).enumerate() {
            if i < remote {
                vm.ssh = Some(format!("root@192.0.2.{}", i + 1));
            }
        }
        let costs = Costs { checkpoint_ms: checkpoint, ..Costs::default() };
        let inst = Instance::new(&t, &tb, costs.clone());
        let (from, to) = (inst.assignment(&p), inst.assignment(&q));
        prop_assert!(close(cost::t_r(&inst, &from, &to), reference_t_r(&t, &tb, &p, &q, &costs)));
        let est = cost::estimate(&inst, &from, &to);
        prop_assert!(close(est.by_phase.total(), est.total_s));
        let plan = cost::plan(&inst, &from, &to);
        prop_assert!(plan.makespan_s + 1e-9 >= est.total_s);
    }

    #[test]
    fn tau_is_monotone_in_load(c in case(), which in 0usize..64, extra in 0.0f64..100.0) {
        let (t, tb, p, _) = c.build();
        let inst = Instance::new(&t, &tb, Costs::default());
        let load = inst.expected_load(&t);
        let assign = inst.assignment(&p);
        let before = cost::tau(&inst, &load, &assign);
        let mut more = load.clone();
        if !more.rate.is_empty() && which % 2 == 0 {
            let k = which % more.rate.len();
            more.rate[k] += extra;
        } else {
            let k = which % more.cpu.len();
            more.cpu[k] += extra;
        }
        prop_assert!(cost::tau(&inst, &more, &assign) >= before);
    }

    #[test]
    fn nothing_moves_nothing_costs(c in case(), tp in 0.0f64..100.0, frac in 0.0f64..1.0) {
        let (t, tb, p, _) = c.build();
        let inst = Instance::new(&t, &tb, Costs::default());
        let load = inst.expected_load(&t);
        let a = inst.assignment(&p);
        prop_assert_eq!(cost::t_r(&inst, &a, &a), 0.0);
        prop_assert!(cost::plan(&inst, &a, &a).moves.is_empty());
        let w = Window { tp, to: tp * frac };
        prop_assert_eq!(cost::chi_of(&inst, &load, w, &a, &a), 0.0);
    }

    #[test]
    fn schedule_never_beats_the_busiest_vm(c in case()) {
        let (t, tb, p, q) = c.build();
        let inst = Instance::new(&t, &tb, Costs::default());
        let (from, to) = (inst.assignment(&p), inst.assignment(&q));
        let plan = cost::plan(&inst, &from, &to).render(&inst);
        // moves sharing a VM never overlap
        for (vm, idx) in &plan.schedule {
            let mut spans: Vec<(f64, f64)> = idx.iter().map(|&i| (plan.moves[i].start_s, plan.moves[i].start_s + plan.moves[i].duration_s)).collect();
            spans.sort_by(|x, y| x.0.total_cmp(&y.0));
            for w in spans.windows(2) {
                prop_assert!(w[0].1 <= w[1].0 + 1e-12, "overlap on {}", vm);
            }
        }
        // T_r(v) of each VM is a lower bound on the makespan
        prop_assert!(plan.makespan_s + 1e-9 >= plan.estimate.total_s - 1e-9 || plan.moves.is_empty());
    }
}
