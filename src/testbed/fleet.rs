//! The VMs of a testbed ([`Fleet`]): one executor per VM (local, SSH or dry
//! run), opened on first use, and what links between two VMs need (machine
//! identity, underlay address).

use super::exec::{DryRunExecutor, Executor, LocalExecutor};
use super::names::checked;
use super::ssh::{SshExecutor, SshOptions};
use super::transfer::{Route, TransferMode};
use super::vnode::Paths;
use crate::error::{Error, Result};
use crate::model::testbed::parse_ssh_target;
use crate::model::Testbed;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

/// A VM's executor and what links to it need.
pub struct VmHandle {
    pub exec: Box<dyn Executor>,
    /// The VM's address for VXLAN tunnels (remote VMs).
    pub underlay: Option<Ipv4Addr>,
}

/// The VMs of a testbed, each with its executor (SSH sessions opened on
/// first use, one per VM, also for two VMs of one machine).
pub struct Fleet {
    pub paths: Paths,
    specs: BTreeMap<String, Option<String>>,
    ssh: Option<SshOptions>,
    vms: BTreeMap<String, VmHandle>,
    dry_log: Option<Arc<Mutex<Vec<String>>>>,
    /// A part of a [`super::pool::FleetPool`]: only these VMs may be
    /// reached (the ones a step holds); `None`: all of the testbed's.
    only: Option<BTreeSet<String>>,
    /// How images move between machines (the testbed's `"transfer"`).
    pub transfer: TransferMode,
}

impl Fleet {
    /// Real executors: local VMs (no `ssh`) run here, the others over SSH.
    pub fn new(testbed: &Testbed, ssh: SshOptions, paths: Paths) -> Fleet {
        let specs = testbed.vms().map(|(_, vm)| (vm.name.clone(), vm.ssh.clone())).collect();
        Fleet {
            paths,
            specs,
            ssh: Some(ssh),
            vms: BTreeMap::new(),
            dry_log: None,
            only: None,
            transfer: testbed.transfer,
        }
    }

    /// Dry run: every VM records its commands into the returned log.
    pub fn dry_run(testbed: &Testbed, paths: Paths) -> (Fleet, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let specs = testbed.vms().map(|(_, vm)| (vm.name.clone(), vm.ssh.clone())).collect();
        (
            Fleet {
                paths,
                specs,
                ssh: None,
                vms: BTreeMap::new(),
                dry_log: Some(log.clone()),
                only: None,
                transfer: testbed.transfer,
            },
            log,
        )
    }

    /// Use this handle for VM `name` (tests; custom transports).
    pub fn insert(&mut self, name: &str, handle: VmHandle) {
        self.specs.entry(name.to_string()).or_insert(None);
        self.vms.insert(name.to_string(), handle);
    }

    pub fn vm_names(&self) -> impl Iterator<Item = &String> {
        self.specs.keys()
    }

    /// This fleet, moved out; `self` keeps its settings with no handle
    /// (for a [`super::pool::FleetPool`] that gives it back with
    /// [`super::pool::FleetPool::into_fleet`]).
    pub fn take(&mut self) -> Fleet {
        let rest = self.sibling(self.only.clone(), BTreeMap::new());
        std::mem::replace(self, rest)
    }

    /// The handles opened so far, moved out (a [`super::pool::FleetPool`] keeps them).
    pub(crate) fn take_handles(&mut self) -> BTreeMap<String, VmHandle> {
        std::mem::take(&mut self.vms)
    }

    /// A fleet with this one's paths, SSH options and dry-run log that
    /// reaches only `vms` (any other is an error), starting with `handles`;
    /// the others of `vms` connect on first use.
    pub(crate) fn part(&self, vms: BTreeSet<String>, handles: BTreeMap<String, VmHandle>) -> Fleet {
        self.sibling(Some(vms), handles)
    }

    /// This fleet's settings with `handles`, reaching `only` (`None`: all).
    fn sibling(&self, only: Option<BTreeSet<String>>, handles: BTreeMap<String, VmHandle>) -> Fleet {
        Fleet {
            paths: self.paths.clone(),
            specs: self.specs.clone(),
            ssh: self.ssh.clone(),
            vms: handles,
            dry_log: self.dry_log.clone(),
            only,
            transfer: self.transfer,
        }
    }

    fn open(&mut self, vm: &str) -> Result<()> {
        if self.vms.contains_key(vm) {
            return Ok(());
        }
        if let Some(only) = &self.only {
            if !only.contains(vm) {
                return Err(Error::Host(format!(
                    "VM {vm} is used by a step that does not hold it (held: {only:?}); a bug"
                )));
            }
        }
        let spec = self
            .specs
            .get(vm)
            .ok_or_else(|| Error::Host(format!("VM {vm:?} is not in the testbed")))?
            .clone();
        checked("VM", vm)?;
        let handle = if let Some(log) = &self.dry_log {
            // The address a real run would use, where the target names one.
            let underlay = spec.as_ref().map(|s| {
                parse_ssh_target(s)
                    .ok()
                    .and_then(|t| t.host.parse().ok())
                    .unwrap_or(Ipv4Addr::UNSPECIFIED)
            });
            let machine = match &spec {
                None => "local".to_string(),
                Some(s) => format!("ssh:{s}"),
            };
            VmHandle {
                exec: Box::new(DryRunExecutor::new(vm, log.clone()).on_machine(machine)),
                underlay,
            }
        } else {
            match spec {
                None => VmHandle {
                    exec: Box::new(LocalExecutor),
                    underlay: None,
                },
                Some(s) => {
                    let target =
                        parse_ssh_target(&s).map_err(|m| Error::host_op(format!("VM {vm}"), "its ssh target", m))?;
                    let opts = self
                        .ssh
                        .clone()
                        .unwrap_or_else(|| SshOptions::new(SshOptions::default_known_hosts()));
                    let underlay = resolve_v4(&target.host, target.port)?;
                    VmHandle {
                        exec: Box::new(SshExecutor::connect(&target, &opts)?),
                        underlay: Some(underlay),
                    }
                }
            }
        };
        self.vms.insert(vm.to_string(), handle);
        Ok(())
    }

    /// The executor of a VM (connecting on first use).
    pub fn exec(&mut self, vm: &str) -> Result<&mut dyn Executor> {
        self.open(vm)?;
        Ok(self.vms.get_mut(vm).unwrap().exec.as_mut())
    }

    fn underlay(&mut self, vm: &str) -> Result<Option<Ipv4Addr>> {
        self.open(vm)?;
        Ok(self.vms[vm].underlay)
    }

    /// How a state directory goes to VM `to` from another machine
    /// ([`super::transfer::copy`]): the testbed's mode, `to`'s address
    /// (the host of its SSH target) and the netbalance binary.
    pub fn route(&mut self, to: &str) -> Result<Route> {
        Ok(Route {
            mode: self.transfer,
            dst_addr: self.underlay(to)?,
            binary: self.paths.keeper.clone(),
        })
    }

    /// Run `f` with the executors of two different VMs at once.
    pub fn with_pair<T>(
        &mut self,
        a: &str,
        b: &str,
        f: impl FnOnce(&mut dyn Executor, &mut dyn Executor) -> Result<T>,
    ) -> Result<T> {
        if a == b {
            return Err(Error::Host(format!("with_pair: one VM twice ({a})")));
        }
        self.open(a)?;
        self.open(b)?;
        let mut ha = self.vms.remove(a).unwrap();
        let r = match self.vms.get_mut(b) {
            Some(hb) => f(ha.exec.as_mut(), hb.exec.as_mut()),
            None => Err(Error::Host(format!("VM {b} vanished"))),
        };
        self.vms.insert(a.to_string(), ha);
        r
    }

    /// Machine identity of a VM's executor.
    pub fn machine(&mut self, vm: &str) -> Result<Option<String>> {
        Ok(self.exec(vm)?.machine())
    }

    /// How a link between VMs `x` and `y` is built.
    pub(crate) fn link_kind(&mut self, x: &str, y: &str) -> Result<LinkKind> {
        if x == y {
            return Ok(LinkKind::Veth);
        }
        let (mx, my) = (self.machine(x)?, self.machine(y)?);
        if mx.is_some() && mx == my {
            return Ok(LinkKind::Veth);
        }
        match (self.underlay(x)?, self.underlay(y)?) {
            (Some(ux), Some(uy)) => Ok(LinkKind::Vxlan(ux, uy)),
            _ => Err(Error::Host(format!(
                "a link between VM {x} and VM {y}: one is local and the other remote; \
                 tunnels between this machine and a remote VM are not supported (make both remote or both local)"
            ))),
        }
    }
}

fn resolve_v4(host: &str, port: u16) -> Result<Ipv4Addr> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::host_op(host, "cannot resolve", e))?
        .find_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| Error::Host(format!("{host} has no IPv4 address (VXLAN tunnels use IPv4)")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Veth,
    /// Underlay addresses of the two VMs.
    Vxlan(Ipv4Addr, Ipv4Addr),
}

/// A lock per machine ([`Executor::machine`], else the executor's label),
/// for host-wide commands that must not interleave between VMs of one
/// machine. Held only around such commands, never while taking another lock.
pub fn machine_lock(ex: &dyn Executor) -> Arc<Mutex<()>> {
    static LOCKS: std::sync::OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = std::sync::OnceLock::new();
    let key = ex.machine().unwrap_or_else(|| ex.label());
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(key).or_default().clone()
}
