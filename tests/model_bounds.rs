//! The model's number bounds keep every result finite (docs/limits.md):
//! any topology, testbed and costs that validate, with values anywhere in
//! their ranges (the extremes included), give a finite τ and a finite
//! migration estimate for any placement, in every migration mode.

use netbalance::io::parse_json;
use netbalance::model::{Costs, MigrationMode, Testbed, Topology};
use proptest::prelude::*;
use serde_json::json;

const MAX: f64 = netbalance::limits::MAX_VALUE;
const MIN_POS: f64 = netbalance::limits::MIN_POSITIVE;

/// A value in [lo, MAX], often one of the extremes.
fn value(lo: f64) -> impl Strategy<Value = f64> {
    prop_oneof![Just(lo), Just(MAX), lo..MAX, Just(1.0)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn values_within_the_bounds_give_finite_results(
        caps in proptest::collection::vec(value(MIN_POS), 1..5),
        nic in value(MIN_POS),
        nodes in proptest::collection::vec((value(0.0), value(0.0)), 2..12),
        mbps in proptest::collection::vec(value(0.0), 1..12),
        cost in value(0.0),
        seed in any::<u64>(),
    ) {
        let vms: Vec<_> = caps.iter().enumerate().map(|(i, c)| json!({"name": format!("h0-v{i}"), "capacity": c})).collect();
        let tb = json!({"hosts": [{"name": "h0", "nic_mbps": nic, "vms": vms}],
            "costs": {"cpu_per_mbit": {"vm": cost, "host": cost, "net": cost}, "suspend_ms": cost,
                "snapshot_ms_per_mb": cost, "transfer_ms_per_mb": {"host": cost, "net": cost},
                "restore_ms_per_mb": cost, "reattach_ms": cost, "resume_ms": cost,
                "post_copy": {"state_dump_ms": cost, "state_restore_ms": cost, "fault_fraction": 1.0},
                "pre_copy": {"dirty_mb_s": cost, "max_rounds": 100, "stop_mb": 0.0, "round_fraction": 1.0}}});
        let n = nodes.len();
        let vnodes: Vec<_> = nodes.iter().enumerate().map(|(i, (m, c))| json!({"id": format!("n{i}"), "memory_mb": m, "cpu": c, "dirty_mb_s": c})).collect();
        let links: Vec<_> = mbps.iter().enumerate().filter(|(i, _)| i + 1 < n).map(|(i, r)| json!({"a": format!("n{i}"), "b": format!("n{}", i + 1), "mbps": r})).collect();
        let topo = json!({"vnodes": vnodes, "links": links});
        let tb: Testbed = parse_json(&tb.to_string(), "tb").unwrap();
        tb.validate("tb").unwrap();
        let topo: Topology = parse_json(&topo.to_string(), "t").unwrap();
        topo.validate("t").unwrap();
        let costs: Costs = tb.costs.clone();
        let inst = netbalance::cost::Instance::new(&topo, &tb, costs);
        let load = inst.expected_load(&topo);
        let k = caps.len() as u64;
        let from: Vec<u32> = (0..n as u64).map(|i| ((seed >> (i % 60)) % k) as u32).collect();
        let to: Vec<u32> = (0..n as u64).map(|i| ((seed.rotate_left(7) >> (i % 60)) % k) as u32).collect();
        let tau = netbalance::cost::tau(&inst, &load, &from);
        prop_assert!(tau.is_finite(), "tau {tau}");
        for mode in [MigrationMode::StopCopy, MigrationMode::PostCopy, MigrationMode::PreCopy] {
            let inst = inst.clone().with_mode(mode);
            let plan = netbalance::cost::plan(&inst, &from, &to);
            prop_assert!(plan.estimate.total_s.is_finite(), "{mode}: T_r {}", plan.estimate.total_s);
            prop_assert!(plan.makespan_s.is_finite(), "{mode}: makespan {}", plan.makespan_s);
        }
    }
}

#[test]
fn values_beyond_the_bounds_are_refused() {
    let tb = |cap: f64| json!({"hosts": [{"name": "h0", "nic_mbps": 1000, "vms": [{"name": "v", "capacity": cap}]}]});
    for cap in [5e-324, 1e-10, 1.7e308, 2e12] {
        let t: Testbed = parse_json(&tb(cap).to_string(), "tb").unwrap();
        assert!(t.validate("tb").is_err(), "capacity {cap}");
    }
    let topo = |m: f64| json!({"vnodes": [{"id": "a", "memory_mb": m}], "links": []});
    for m in [1.7e308, 2e12, -1.0] {
        let t: Topology = parse_json(&topo(m).to_string(), "t").unwrap();
        assert!(t.validate("t").is_err(), "memory_mb {m}");
    }
}
