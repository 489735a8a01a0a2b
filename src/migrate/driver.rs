//! The side effects of a migration, one method per step (model §3's phases).
//! The engine ([`super::engine`]) decides what to call and when; a driver
//! only does the step it is asked and reports whether it worked. Every
//! method may be called again after a failure or a crash, so each must be
//! idempotent: repeating a step that was done is not an error.
//!
//! Implementations: the real one on top of `src/testbed` and
//! `super::fake::FakeDriver` (tests only, `test-hooks` feature), an in-process world with fault injection
//! that the engine's tests use.

use crate::error::Result;
use crate::model::Topology;

/// A vnode as the driver needs it: its id, memory and the command it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct VnodeSpec {
    pub id: String,
    pub memory_mb: f64,
    /// The software under test, started in the vnode's namespace (model §1).
    pub run: Option<String>,
}

/// A link with the VM each end is on at the time of the call.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    pub a: String,
    pub a_vm: String,
    pub b: String,
    pub b_vm: String,
    pub mbps: f64,
    pub delay_ms: f64,
}

/// What a VM holds of a vnode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Presence {
    /// Its processes run (or are frozen) there, in its namespace.
    pub running: bool,
    /// A checkpoint image of it is stored there.
    pub image: bool,
}

/// The per-step side effects. Errors are `Error::Host` naming the VM and the
/// step; the engine journals them and rolls back.
pub trait VnodeDriver: Sync {
    /// First deployment: create every vnode (namespace, cgroups) on its VM,
    /// make every link, then start the vnodes' software.
    fn deploy(&self, vnodes: &[(VnodeSpec, String)], links: &[LinkSpec]) -> Result<()>;
    /// Before the pause, while the experiment runs: copy what can be copied
    /// of the vnode's memory from `from` to `to` ahead of its move
    /// (pre-copy, model §3.1). A driver that moves otherwise does nothing.
    /// A failure leaves the vnode running where it was; its move then copies
    /// everything in the pause.
    fn pre_copy(&self, _vnode: &str, _from: &str, _to: &str) -> Result<()> {
        Ok(())
    }
    /// Freeze every listed vnode on `vm` (cgroup freezer).
    fn suspend(&self, vm: &str, vnodes: &[String]) -> Result<()>;
    /// Thaw every listed vnode on `vm`.
    fn resume(&self, vm: &str, vnodes: &[String]) -> Result<()>;
    /// Dump the (frozen) vnode on `vm` to an image kept on `vm`; its
    /// processes there end. On failure the vnode must still run there, or
    /// the image must be complete.
    fn checkpoint(&self, vm: &str, vnode: &str) -> Result<()>;
    /// Copy the vnode's image from `from` to `to` (the source keeps its copy).
    fn transfer(&self, vnode: &str, from: &str, to: &str) -> Result<()>;
    /// Restore the vnode from its image on `vm`, in a fresh namespace,
    /// frozen. Any leftover namespace of the vnode on `vm` is replaced.
    fn restore(&self, vm: &str, vnode: &VnodeSpec) -> Result<()>;
    /// Make every link of `vnode` (all in `links`) exist between its two
    /// ends at the VMs given, replacing any earlier end of it.
    fn reattach(&self, vnode: &str, links: &[LinkSpec]) -> Result<()>;
    /// Stop the vnode on `vm` if it runs there and remove its namespace and
    /// interfaces there (not its image).
    fn remove(&self, vm: &str, vnode: &str) -> Result<()>;
    /// Delete the vnode's image on `vm`, if any.
    fn discard_image(&self, vm: &str, vnode: &str) -> Result<()>;
    /// Look at what `vm` holds of the vnode (for recovery).
    fn probe(&self, vm: &str, vnode: &str) -> Result<Presence>;
    /// What each move measured on the hosts, the last move of every vnode
    /// that moved (none for a driver that measures nothing).
    fn measured(&self) -> Vec<crate::testbed::MigrationTimes> {
        Vec::new()
    }
}

/// The specs of vnodes and links, built once from the topology.
#[derive(Debug, Clone)]
pub struct Specs {
    pub vnodes: Vec<VnodeSpec>,
    /// Per link (topology order): a, b (vnode indices), mbps, delay.
    pub links: Vec<(u32, u32, f64, f64)>,
    /// Per vnode, the indices of its links.
    pub links_of: Vec<Vec<u32>>,
}

impl Specs {
    /// Index the topology (which must be the one the instance was built from).
    pub fn new(topology: &Topology) -> Specs {
        let index = topology.index();
        let vnodes: Vec<VnodeSpec> = topology
            .vnodes
            .iter()
            .map(|n| VnodeSpec {
                id: n.id.clone(),
                memory_mb: n.memory_mb,
                run: n.run.clone(),
            })
            .collect();
        let mut links_of = vec![Vec::new(); vnodes.len()];
        let links = topology
            .links
            .iter()
            .enumerate()
            .map(|(e, l)| {
                let (a, b) = (index[l.a.as_str()] as u32, index[l.b.as_str()] as u32);
                links_of[a as usize].push(e as u32);
                links_of[b as usize].push(e as u32);
                (a, b, l.mbps, l.delay_ms)
            })
            .collect();
        Specs {
            vnodes,
            links,
            links_of,
        }
    }

    /// Link `e` with its ends at the VMs of `vm_of` (indices into `vm_names`).
    pub fn link(&self, e: u32, vm_of: &[u32], vm_names: &[String]) -> LinkSpec {
        let (a, b, mbps, delay_ms) = self.links[e as usize];
        LinkSpec {
            a: self.vnodes[a as usize].id.clone(),
            a_vm: vm_names[vm_of[a as usize] as usize].clone(),
            b: self.vnodes[b as usize].id.clone(),
            b_vm: vm_names[vm_of[b as usize] as usize].clone(),
            mbps,
            delay_ms,
        }
    }
}
