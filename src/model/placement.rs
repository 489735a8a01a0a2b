//! A placement φ: which VM runs each vnode, plus the files it was made for.

use super::{Testbed, Topology};
use crate::error::{Error, Location, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub vm_of: BTreeMap<String, String>,
    /// τ of this placement under the load it was made for (metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// χ of the move to this placement (metadata; absent for an initial placement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi: Option<f64>,
    /// The topology file it was made for (path as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<PathBuf>,
    /// The testbed file it was made for (path as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testbed: Option<PathBuf>,
    /// The file this placement was read from (not serialised): relative
    /// `topology`/`testbed` paths are looked up beside it, and errors about
    /// them name it.
    #[serde(skip)]
    pub read_from: Option<PathBuf>,
}

impl Placement {
    /// Check the placement is complete and consistent: every vnode exactly
    /// once, every VM named exists.
    pub fn validate(&self, file: &str, topology: &Topology, testbed: &Testbed) -> Result<()> {
        let at = |path: String, msg: String| Error::input(Location::file(file).at_path(path), msg);
        let vms: HashSet<&str> = testbed.vms().map(|(_, vm)| vm.name.as_str()).collect();
        let ids: HashSet<&str> = topology.vnodes.iter().map(|n| n.id.as_str()).collect();
        for (id, vm) in &self.vm_of {
            if !ids.contains(id.as_str()) {
                return Err(at(
                    format!("vm_of.{id}"),
                    format!("unknown vnode {id:?} (not in the topology)"),
                ));
            }
            if !vms.contains(vm.as_str()) {
                return Err(at(format!("vm_of.{id}"), format!("VM {vm:?} is not in the testbed")));
            }
        }
        if let Some(missing) = topology.vnodes.iter().find(|n| !self.vm_of.contains_key(&n.id)) {
            let n_missing = topology
                .vnodes
                .iter()
                .filter(|n| !self.vm_of.contains_key(&n.id))
                .count();
            return Err(at(
                "vm_of".into(),
                format!(
                    "incomplete placement: vnode {:?} has no VM ({n_missing} vnode(s) missing)",
                    missing.id
                ),
            ));
        }
        Ok(())
    }
}
