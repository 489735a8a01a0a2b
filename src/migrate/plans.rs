//! What `migrate --dry-run` prints besides a migration plan: the plan of a
//! first deployment and of a teardown.

use crate::cost::{link_class, Instance};
use crate::model::LinkClass;
use serde::Serialize;
use std::collections::BTreeMap;

/// A first deployment: the vnodes each VM will run, and the links by class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentPlan {
    /// VM → the vnodes it will run (VMs with none are left out).
    pub deploy: BTreeMap<String, Vec<String>>,
    pub vnodes: usize,
    pub links: LinkCount,
}

/// A teardown: the vnodes stopped on each VM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeardownPlan {
    pub teardown: BTreeMap<String, Vec<String>>,
    pub vnodes: usize,
}

/// Links by class (model §2): inside a VM, between VMs of a host, across hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LinkCount {
    pub vm: usize,
    pub host: usize,
    pub net: usize,
}

fn by_vm(inst: &Instance, assign: &[u32]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, &v) in assign.iter().enumerate() {
        out.entry(inst.vm_names[v as usize].clone())
            .or_default()
            .push(inst.vnode_ids[n].clone());
    }
    out
}

/// The deployment of `assign`. O(|vnodes| + |links|).
pub fn deployment_plan(inst: &Instance, assign: &[u32]) -> DeploymentPlan {
    let mut links = LinkCount::default();
    for &(a, b) in &inst.links {
        match link_class(inst, assign, a, b) {
            LinkClass::Vm => links.vm += 1,
            LinkClass::Host => links.host += 1,
            LinkClass::Net => links.net += 1,
        }
    }
    DeploymentPlan {
        deploy: by_vm(inst, assign),
        vnodes: assign.len(),
        links,
    }
}

/// The teardown of `assign`. O(|vnodes|).
pub fn teardown_plan(inst: &Instance, assign: &[u32]) -> TeardownPlan {
    TeardownPlan {
        teardown: by_vm(inst, assign),
        vnodes: assign.len(),
    }
}
