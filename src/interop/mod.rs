//! Placements in the shapes other emulators take, so that netbalance's
//! placer can serve them (docs/interop.md):
//!
//! - MaxiNet: `Experiment(cluster, topo, nodemapping=M)` with `M` a dict
//!   node name → worker *index* (an int, the worker's position in the
//!   cluster); netbalance's hosts in testbed order are the workers.
//! - Distrinet: `DummyMapper(places=M)` with `M` a dict node name → physical
//!   host *name* (a string); netbalance's host names are used.
//!
//! Both are JSON objects, which Python reads with `json.load`.

use crate::error::{Error, Location, Result};
use crate::model::{Placement, Testbed};
use std::collections::{BTreeMap, HashMap};

/// A tool whose node → host mapping can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// MaxiNet's `nodemapping`: node → worker index (host position in the testbed)
    Maxinet,
    /// Distrinet's `DummyMapper(places=…)`: node → host name
    Distrinet,
}

/// The host (its position and name) of every vnode of a placement.
///
/// ```
/// use netbalance::interop::{mapping, Tool};
/// use netbalance::model::{Placement, Testbed};
/// let tb = Testbed::generate(2, 2, 1000.0);
/// let mut p = Placement::default();
/// p.vm_of.insert("a".into(), "h1-v0".into());
/// p.vm_of.insert("b".into(), "h0-v1".into());
/// let m = mapping(&p, &tb, Tool::Maxinet, "p.json").unwrap();
/// assert_eq!(m.to_string(), r#"{"a":1,"b":0}"#);
/// let d = mapping(&p, &tb, Tool::Distrinet, "p.json").unwrap();
/// assert_eq!(d.to_string(), r#"{"a":"h1","b":"h0"}"#);
/// ```
/// Complexity: O(VMs + vnodes · log vnodes).
pub fn mapping(placement: &Placement, testbed: &Testbed, tool: Tool, file: &str) -> Result<serde_json::Value> {
    let host_of: HashMap<&str, (usize, &str)> = testbed
        .hosts
        .iter()
        .enumerate()
        .flat_map(|(i, h)| h.vms.iter().map(move |vm| (vm.name.as_str(), (i, h.name.as_str()))))
        .collect();
    let mut out = BTreeMap::new();
    for (vnode, vm) in &placement.vm_of {
        let (index, name) = host_of.get(vm.as_str()).ok_or_else(|| {
            Error::input(
                Location::file(file).at_path(format!("vm_of.{vnode}")),
                format!("VM {vm:?} is not in the testbed"),
            )
        })?;
        let value = match tool {
            Tool::Maxinet => serde_json::Value::from(*index),
            Tool::Distrinet => serde_json::Value::from(*name),
        };
        out.insert(vnode.clone(), value);
    }
    Ok(serde_json::Value::Object(out.into_iter().collect()))
}
