//! The time dilation factor τ (model §2).
//!
//! ```text
//! L_v  = Σ_{n∈v} cpu_n + Σ_{e touching v} rate_e · cpu_per_mbit[k(e)]   (once if both ends in v)
//! N_h  = Σ_{e with exactly one end on host h} rate_e
//! τ(φ) = max( max_v L_v / capacity_v , max_h N_h / nic_mbps_h )
//! ```
//!
//! Complexity: O(|vnodes| + |links| + |VMs| + |hosts|).

use super::instance::{Instance, Load};
use crate::model::LinkClass;
use serde::Serialize;

/// The class of link (a, b) under an assignment.
#[inline]
pub fn link_class(inst: &Instance, assign: &[u32], a: u32, b: u32) -> LinkClass {
    let (va, vb) = (assign[a as usize], assign[b as usize]);
    if va == vb {
        LinkClass::Vm
    } else if inst.vm_host[va as usize] == inst.vm_host[vb as usize] {
        LinkClass::Host
    } else {
        LinkClass::Net
    }
}

/// Per-VM CPU load L_v and per-host NIC traffic N_h.
#[derive(Debug, Clone, PartialEq)]
pub struct Loads {
    pub vm: Vec<f64>,
    pub nic: Vec<f64>,
}

/// Compute L_v for every VM and N_h for every host.
pub fn loads(inst: &Instance, load: &Load, assign: &[u32]) -> Loads {
    let mut vm = vec![0.0; inst.n_vms()];
    let mut nic = vec![0.0; inst.n_hosts()];
    for (n, &v) in assign.iter().enumerate() {
        vm[v as usize] += load.cpu[n];
    }
    let per = &inst.costs.cpu_per_mbit;
    for (e, &(a, b)) in inst.links.iter().enumerate() {
        let rate = load.rate[e];
        if rate == 0.0 {
            continue;
        }
        let (va, vb) = (assign[a as usize] as usize, assign[b as usize] as usize);
        match link_class(inst, assign, a, b) {
            LinkClass::Vm => vm[va] += rate * per.vm,
            LinkClass::Host => {
                vm[va] += rate * per.host;
                vm[vb] += rate * per.host;
            }
            LinkClass::Net => {
                vm[va] += rate * per.net;
                vm[vb] += rate * per.net;
                nic[inst.vm_host[va] as usize] += rate;
                nic[inst.vm_host[vb] as usize] += rate;
            }
        }
    }
    Loads { vm, nic }
}

/// τ from per-VM and per-host loads.
pub fn tau_of_loads(inst: &Instance, l: &Loads) -> f64 {
    let vm =
        l.vm.iter()
            .zip(&inst.vm_capacity)
            .map(|(x, c)| x / c)
            .fold(0.0, f64::max);
    let nic = l.nic.iter().zip(&inst.host_nic).map(|(x, c)| x / c).fold(0.0, f64::max);
    vm.max(nic)
}

/// τ(φ) for an assignment under a load.
///
/// ```
/// use netbalance::model::{Testbed, Topology, Vnode, Link, Costs};
/// use netbalance::cost::{Instance, tau};
/// let tb = Testbed::generate(1, 2, 1000.0);
/// let mut topo = Topology::default();
/// topo.vnodes = vec![Vnode::new("a"), Vnode::new("b")];
/// topo.vnodes[0].cpu = Some(0.5);
/// topo.links = vec![Link::new("a", "b", 100.0)];
/// let inst = Instance::new(&topo, &tb, Costs::default());
/// let load = inst.expected_load(&topo);
/// // both on one VM: 0.5 + 100 Mbit/s · 0.0005 = 0.55
/// assert!((tau(&inst, &load, &[0, 0]) - 0.55).abs() < 1e-12);
/// // split over two VMs of one host: VM 0 carries 0.5 + 100 · 0.002 = 0.7
/// assert!((tau(&inst, &load, &[0, 1]) - 0.7).abs() < 1e-12);
/// ```
pub fn tau(inst: &Instance, load: &Load, assign: &[u32]) -> f64 {
    tau_of_loads(inst, &loads(inst, load, assign))
}

/// What limits τ: a VM's CPU or a host's NIC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    /// `"vm"` or `"nic"`.
    pub kind: &'static str,
    pub name: String,
    pub utilisation: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmReport {
    pub name: String,
    pub host: String,
    pub vnodes: usize,
    /// L_v, CPU-seconds per virtual second.
    pub load: f64,
    pub capacity: f64,
    /// L_v / capacity.
    pub utilisation: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReport {
    pub name: String,
    /// N_h, Mbit per virtual second through the NIC.
    pub nic_mbit: f64,
    pub nic_mbps: f64,
    pub utilisation: f64,
}

/// τ with the per-VM and per-host breakdown (what `cost` prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TauReport {
    pub tau: f64,
    pub bottleneck: Bottleneck,
    pub vms: Vec<VmReport>,
    pub hosts: Vec<HostReport>,
}

/// Compute τ and its breakdown. The bottleneck is the first VM (or NIC, if
/// strictly larger) reaching τ.
pub fn report(inst: &Instance, load: &Load, assign: &[u32]) -> TauReport {
    let l = loads(inst, load, assign);
    let mut count = vec![0usize; inst.n_vms()];
    for &v in assign {
        count[v as usize] += 1;
    }
    let vms: Vec<VmReport> = (0..inst.n_vms())
        .map(|v| VmReport {
            name: inst.vm_names[v].clone(),
            host: inst.host_names[inst.vm_host[v] as usize].clone(),
            vnodes: count[v],
            load: l.vm[v],
            capacity: inst.vm_capacity[v],
            utilisation: l.vm[v] / inst.vm_capacity[v],
        })
        .collect();
    let hosts: Vec<HostReport> = (0..inst.n_hosts())
        .map(|h| HostReport {
            name: inst.host_names[h].clone(),
            nic_mbit: l.nic[h],
            nic_mbps: inst.host_nic[h],
            utilisation: l.nic[h] / inst.host_nic[h],
        })
        .collect();
    let mut bottleneck = Bottleneck {
        kind: "vm",
        name: vms[0].name.clone(),
        utilisation: vms[0].utilisation,
    };
    for vm in &vms {
        if vm.utilisation > bottleneck.utilisation {
            bottleneck = Bottleneck {
                kind: "vm",
                name: vm.name.clone(),
                utilisation: vm.utilisation,
            };
        }
    }
    for h in &hosts {
        if h.utilisation > bottleneck.utilisation {
            bottleneck = Bottleneck {
                kind: "nic",
                name: h.name.clone(),
                utilisation: h.utilisation,
            };
        }
    }
    TauReport {
        tau: tau_of_loads(inst, &l),
        bottleneck,
        vms,
        hosts,
    }
}
