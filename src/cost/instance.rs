//! An indexed view of (topology, testbed, load) that the formulas work on:
//! vnodes, links, VMs and hosts are numbered; a placement is a `Vec<u32>`
//! giving the VM index of every vnode.

use crate::error::{Error, Location, Result};
use crate::model::{Costs, LoadSnapshot, MigrationMode, Placement, Testbed, Topology};
use std::collections::HashMap;

/// VM index of every vnode (index = vnode index).
pub type Assignment = Vec<u32>;

#[derive(Debug, Clone)]
pub struct Instance {
    pub vnode_ids: Vec<String>,
    pub memory_mb: Vec<f64>,
    /// Each vnode's stated dirty rate (MB/s), if any (model §3.1).
    pub dirty_mb_s: Vec<Option<f64>>,
    /// Link endpoints (vnode indices), in topology order.
    pub links: Vec<(u32, u32)>,
    pub vm_names: Vec<String>,
    /// Host index of every VM.
    pub vm_host: Vec<u32>,
    pub vm_capacity: Vec<f64>,
    pub host_names: Vec<String>,
    pub host_nic: Vec<f64>,
    /// True for a local VM (no `ssh`): its host-side work runs on this machine.
    pub vm_local: Vec<bool>,
    /// The testbed's `local_cpus`: the CPUs local VMs' moves share.
    pub local_cpus: Option<u32>,
    pub costs: Costs,
    /// How moves are priced (model §3.1): the testbed's `migration`, else
    /// stop-copy; a command's `--migration` overrides it.
    pub mode: MigrationMode,
    vnode_index: HashMap<String, u32>,
    vm_index: HashMap<String, u32>,
    link_index: HashMap<(u32, u32), u32>,
}

/// The load on every vnode (CPU) and link (rate), indexed like the instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub cpu: Vec<f64>,
    pub rate: Vec<f64>,
}

impl Instance {
    /// Build the indexed view. `costs` is the profile in force (the testbed's
    /// `costs`, or a `--costs` file). Inputs must already be validated.
    pub fn new(topology: &Topology, testbed: &Testbed, costs: Costs) -> Instance {
        let vnode_ids: Vec<String> = topology.vnodes.iter().map(|n| n.id.clone()).collect();
        let vnode_index: HashMap<String, u32> = vnode_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        let links: Vec<(u32, u32)> = topology
            .links
            .iter()
            .map(|l| (vnode_index[&l.a], vnode_index[&l.b]))
            .collect();
        let link_index = links
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| ((a.min(b), a.max(b)), i as u32))
            .collect();
        let mut vm_names = Vec::new();
        let mut vm_host = Vec::new();
        let mut vm_capacity = Vec::new();
        let mut vm_local = Vec::new();
        for (h, vm) in testbed.vms() {
            vm_local.push(vm.ssh.is_none());
            vm_names.push(vm.name.clone());
            vm_host.push(h as u32);
            vm_capacity.push(vm.capacity);
        }
        let vm_index = vm_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Instance {
            memory_mb: topology.vnodes.iter().map(|n| n.memory_mb).collect(),
            dirty_mb_s: topology.vnodes.iter().map(|n| n.dirty_mb_s).collect(),
            vnode_ids,
            links,
            vm_names,
            vm_host,
            vm_capacity,
            host_names: testbed.hosts.iter().map(|h| h.name.clone()).collect(),
            host_nic: testbed.hosts.iter().map(|h| h.nic_mbps).collect(),
            vm_local,
            local_cpus: testbed.local_cpus,
            costs,
            mode: testbed.migration.unwrap_or_default(),
            vnode_index,
            vm_index,
            link_index,
        }
    }

    /// The same instance with moves priced in `mode`.
    pub fn with_mode(mut self, mode: MigrationMode) -> Instance {
        self.mode = mode;
        self
    }

    /// Vnode `n`'s dirty rate: its own, else the profile's estimate (MB/s).
    pub fn dirty_rate(&self, n: usize) -> f64 {
        self.dirty_mb_s[n].unwrap_or(self.costs.pre_copy.dirty_mb_s)
    }

    pub fn n_vnodes(&self) -> usize {
        self.vnode_ids.len()
    }
    pub fn n_vms(&self) -> usize {
        self.vm_names.len()
    }
    pub fn n_hosts(&self) -> usize {
        self.host_names.len()
    }
    pub fn vnode(&self, id: &str) -> Option<u32> {
        self.vnode_index.get(id).copied()
    }
    pub fn vm(&self, name: &str) -> Option<u32> {
        self.vm_index.get(name).copied()
    }
    /// The link between two vnodes, in either order.
    pub fn link(&self, a: u32, b: u32) -> Option<u32> {
        self.link_index.get(&(a.min(b), a.max(b))).copied()
    }

    /// The topology's expected load (model §1): vnode `cpu` (default 0) and
    /// link `rate` (default `mbps`).
    pub fn expected_load(&self, topology: &Topology) -> Load {
        Load {
            cpu: topology.vnodes.iter().map(|n| n.cpu.unwrap_or(0.0)).collect(),
            rate: topology.links.iter().map(|l| l.expected_rate()).collect(),
        }
    }

    /// A vnode a snapshot names at `path` of `file`: its index, or an input
    /// error if the topology has no such vnode.
    fn snapshot_vnode(&self, id: &str, file: &str, path: String) -> Result<usize> {
        self.vnode(id).map(|i| i as usize).ok_or_else(|| {
            Error::input(
                Location::file(file).at_path(path),
                format!("unknown vnode {id:?} (not in the topology)"),
            )
        })
    }

    /// The dirty rates of a measured snapshot (vnode index, MB/s); a name
    /// not in the topology is an error.
    pub fn dirty_from_snapshot(&self, snap: &LoadSnapshot, file: &str) -> Result<Vec<(usize, f64)>> {
        snap.dirty_mb_s
            .iter()
            .map(|(id, &d)| Ok((self.snapshot_vnode(id, file, format!("dirty_mb_s.{id}"))?, d)))
            .collect()
    }

    /// The load of a measured snapshot. Vnodes and links it does not name
    /// carry 0; a name not in the topology is an error.
    pub fn load_from_snapshot(&self, snap: &LoadSnapshot, file: &str) -> Result<Load> {
        let mut load = Load {
            cpu: vec![0.0; self.n_vnodes()],
            rate: vec![0.0; self.links.len()],
        };
        for (id, &c) in &snap.cpu {
            load.cpu[self.snapshot_vnode(id, file, format!("cpu.{id}"))?] = c;
        }
        for (k, r) in snap.mbps.iter().enumerate() {
            let unknown =
                |what: &str| Error::input(Location::file(file).at_path(format!("mbps[{k}]")), what.to_string());
            let a = self
                .vnode(&r.a)
                .ok_or_else(|| unknown(&format!("unknown vnode {:?}", r.a)))?;
            let b = self
                .vnode(&r.b)
                .ok_or_else(|| unknown(&format!("unknown vnode {:?}", r.b)))?;
            let l = self
                .link(a, b)
                .ok_or_else(|| unknown(&format!("no link between {:?} and {:?} in the topology", r.a, r.b)))?;
            load.rate[l as usize] += r.rate;
        }
        Ok(load)
    }

    /// The assignment of a validated placement.
    pub fn assignment(&self, placement: &Placement) -> Assignment {
        self.vnode_ids
            .iter()
            .map(|id| self.vm_index[&placement.vm_of[id]])
            .collect()
    }

    /// The placement of an assignment (no metadata).
    pub fn placement(&self, assign: &[u32]) -> Placement {
        Placement {
            vm_of: self
                .vnode_ids
                .iter()
                .zip(assign)
                .map(|(id, &vm)| (id.clone(), self.vm_names[vm as usize].clone()))
                .collect(),
            ..Placement::default()
        }
    }
}
