//! The scenario's load as a stream of model §1 snapshots: a ready-made
//! input for `balance --replay` (`simulate --loads`), so that nobody has to
//! write a generator to try the closed loop.

use super::drive::{epoch_loads, Settings};
use crate::cost::{Instance, Load};
use crate::model::{LinkRate, LoadSnapshot};
use std::collections::BTreeMap;

/// One snapshot per epoch of run `run` (the sink's load, at the epoch's
/// start), and a last one at the end of the experiment repeating the last
/// epoch's load, so that a replay covers the whole run. Links that carry
/// nothing are left out (their rate is 0).
///
/// Complexity: O(epochs · (vnodes + links)).
pub fn epoch_snapshots(inst: &Instance, s: &Settings, run: usize, seed: u64) -> Vec<LoadSnapshot> {
    let (_, loads) = epoch_loads(inst, s, run, seed);
    let mut out: Vec<LoadSnapshot> = loads
        .iter()
        .enumerate()
        .map(|(k, load)| snapshot(inst, load, k as f64 * s.epoch_s))
        .collect();
    if let Some(last) = out.last().cloned() {
        out.push(LoadSnapshot {
            t: loads.len() as f64 * s.epoch_s,
            ..last
        });
    }
    out
}

/// A load as a snapshot at time `t`, with the instance's names.
pub fn snapshot(inst: &Instance, load: &Load, t: f64) -> LoadSnapshot {
    LoadSnapshot {
        t,
        cpu: inst
            .vnode_ids
            .iter()
            .zip(&load.cpu)
            .filter(|(_, c)| **c > 0.0)
            .map(|(id, c)| (id.clone(), *c))
            .collect(),
        mbps: inst
            .links
            .iter()
            .zip(&load.rate)
            .filter(|(_, r)| **r > 0.0)
            .map(|(&(a, b), &rate)| LinkRate {
                a: inst.vnode_ids[a as usize].clone(),
                b: inst.vnode_ids[b as usize].clone(),
                rate,
            })
            .collect(),
        dirty_mb_s: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::experiment::Experiment;

    /// The snapshots, read back through the instance, are the scenario's
    /// loads (the round trip `balance --replay` relies on).
    #[test]
    fn snapshots_round_trip_to_the_scenarios_loads() {
        let e = Experiment {
            topology: "grid".into(),
            epochs: 3,
            ..Experiment::default()
        };
        let inst = e.instance().unwrap();
        let s = e.settings();
        let snaps = epoch_snapshots(&inst, &s, 0, e.seed);
        assert_eq!(snaps.len(), 4);
        assert_eq!(
            snaps.iter().map(|x| x.t).collect::<Vec<_>>(),
            [0.0, 120.0, 240.0, 360.0]
        );
        let (_, loads) = epoch_loads(&inst, &s, 0, e.seed);
        for (snap, load) in snaps.iter().zip(&loads) {
            let back = inst.load_from_snapshot(snap, "t").unwrap();
            assert_eq!(&back.cpu, &load.cpu);
            assert_eq!(&back.rate, &load.rate);
        }
    }
}
