//! Vnodes on VMs: one network namespace per vnode, links as veth pairs (both
//! ends on one machine) or VXLAN tunnels (between VMs), a `tc tbf` rate limit
//! on each end, and the vnode's `run` command started inside its namespace
//! and cgroups.
//!
//! Link delay is not emulated: the kernels this was built on have no `netem`
//! (see docs/testbed.md); [`DeployReport::delay_not_applied`] counts the
//! links whose `delay_ms` was ignored.

use super::cgroup::Cgroups;
use super::exec::{path_str, Cmd, DryRunExecutor, Executor, LocalExecutor};
use super::names::{self, checked};
use super::ssh::{SshExecutor, SshOptions};
use super::transfer::{Route, TransferMode};
use crate::error::{Error, Result};
use crate::model::testbed::parse_ssh_target;
use crate::model::{Placement, Testbed, Topology};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// UDP port of our VXLAN tunnels.
pub const VXLAN_PORT: u16 = 4789;
/// MTU of a VXLAN link (1500 minus 50 bytes of encapsulation).
pub const VXLAN_MTU: u32 = 1450;

/// Where things live on every VM.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Per-vnode state directories (`<root>/<cgroup name>/`: pid, out.log, images/).
    pub state_root: PathBuf,
    /// The criu binary.
    pub criu: String,
    pub cgroups: Cgroups,
    /// The `netbalance` binary whose hidden `keeper` subcommand adopts and
    /// reaps a vnode's processes (see [`super::keeper`]); used on every VM
    /// where this path exists. Its `xfer` subcommand is the direct image
    /// transfer between VMs ([`super::transfer`]). `None`: vnodes and restored trees are
    /// orphans of pid 1, and a checkpoint waits for it to reap them.
    pub keeper: Option<String>,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            state_root: PathBuf::from("/var/lib/netbalance/vnodes"),
            criu: "criu".into(),
            cgroups: Cgroups::default(),
            keeper: default_keeper(),
        }
    }
}

/// `$NETBALANCE_KEEPER` (empty: none), else this program if it is the
/// `netbalance` binary (not, say, a test harness linking the library).
pub fn default_keeper() -> Option<String> {
    if let Some(k) = std::env::var_os("NETBALANCE_KEEPER") {
        return (!k.is_empty()).then(|| k.to_string_lossy().into_owned());
    }
    let exe = std::env::current_exe().ok()?;
    (exe.file_name()? == "netbalance").then(|| exe.to_string_lossy().into_owned())
}

/// `KEEPER keeper [--detach] -- CMD…`.
pub fn under_keeper(keeper: &str, cmd: Cmd, detach: bool) -> Cmd {
    let mut c = Cmd::new(keeper).arg("keeper");
    if detach {
        c = c.arg("--detach");
    }
    let mut c = c.arg("--").arg(cmd.program).args(cmd.args);
    c.stdin = cmd.stdin;
    c
}

impl Paths {
    pub fn vnode_dir(&self, cgroup: &str) -> PathBuf {
        self.state_root.join(cgroup)
    }

    /// The keeper binary on this VM, if configured and present there.
    pub fn keeper_on(&self, ex: &mut dyn Executor) -> Result<Option<String>> {
        match &self.keeper {
            Some(k) if ex.exists(std::path::Path::new(k))? => Ok(Some(k.clone())),
            _ => Ok(None),
        }
    }

    /// `cmd` run under the keeper on this VM when there is one (see
    /// [`Paths::keeper`]); `detach`: return once it has started.
    pub fn kept(&self, ex: &mut dyn Executor, cmd: Cmd, detach: bool) -> Result<Cmd> {
        Ok(match self.keeper_on(ex)? {
            Some(k) => under_keeper(&k, cmd, detach),
            None => cmd,
        })
    }
}

/// One end of a link, as seen from its vnode.
#[derive(Debug, Clone, PartialEq)]
pub struct Iface {
    /// Index of the link in the topology.
    pub link: usize,
    /// Interface name inside the vnode's namespace (`eth<k>`).
    pub name: String,
    pub addr: Ipv4Addr,
    pub peer: String,
    pub peer_if: String,
    pub peer_addr: Ipv4Addr,
    /// Rate limit of this end's egress (Mbit/s; 0: none).
    pub mbps: f64,
}

/// What every VM needs to know about a vnode, independent of placement.
#[derive(Debug, Clone, PartialEq)]
pub struct VnodeLayout {
    pub id: String,
    /// cgroup and state-directory name.
    pub cgroup: String,
    pub run: Option<String>,
    pub memory_mb: f64,
    pub ifaces: Vec<Iface>,
}

/// The derived names and addresses of a topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub vnodes: BTreeMap<String, VnodeLayout>,
    /// (a, b, delay_ms) per link, by topology index.
    pub links: Vec<(String, String, f64)>,
}

impl Layout {
    /// Derive names and addresses; refuse unsafe ids and hash collisions.
    pub fn new(topo: &Topology) -> Result<Layout> {
        let mut vnodes = BTreeMap::new();
        let mut by_cgroup: HashMap<String, String> = HashMap::new();
        for n in &topo.vnodes {
            checked("vnode", &n.id)?;
            let cg = names::cgroup_name(&n.id);
            if let Some(other) = by_cgroup.insert(cg.clone(), n.id.clone()) {
                return Err(Error::Host(format!(
                    "vnode ids {other:?} and {:?} hash to the same name {cg}; rename one",
                    n.id
                )));
            }
            vnodes.insert(
                n.id.clone(),
                VnodeLayout {
                    id: n.id.clone(),
                    cgroup: cg,
                    run: n.run.clone(),
                    memory_mb: n.memory_mb,
                    ifaces: Vec::new(),
                },
            );
        }
        let mut links = Vec::with_capacity(topo.links.len());
        for (i, l) in topo.links.iter().enumerate() {
            let (addr_a, addr_b) = names::link_addrs(i)?;
            let ka = vnodes
                .get(&l.a)
                .map(|v| v.ifaces.len())
                .ok_or_else(|| Error::Host(format!("link {i}: no vnode {:?}", l.a)))?;
            let kb = vnodes
                .get(&l.b)
                .map(|v| v.ifaces.len())
                .ok_or_else(|| Error::Host(format!("link {i}: no vnode {:?}", l.b)))?;
            let (if_a, if_b) = (names::ifname(ka), names::ifname(kb));
            vnodes.get_mut(&l.a).unwrap().ifaces.push(Iface {
                link: i,
                name: if_a.clone(),
                addr: addr_a,
                peer: l.b.clone(),
                peer_if: if_b.clone(),
                peer_addr: addr_b,
                mbps: l.mbps,
            });
            vnodes.get_mut(&l.b).unwrap().ifaces.push(Iface {
                link: i,
                name: if_b,
                addr: addr_b,
                peer: l.a.clone(),
                peer_if: if_a,
                peer_addr: addr_a,
                mbps: l.mbps,
            });
            links.push((l.a.clone(), l.b.clone(), l.delay_ms));
        }
        Ok(Layout { vnodes, links })
    }

    pub fn vnode(&self, id: &str) -> Result<&VnodeLayout> {
        self.vnodes
            .get(id)
            .ok_or_else(|| Error::Host(format!("no vnode {id:?} in the topology")))
    }

    /// The end of link `i` that belongs to vnode `id`.
    pub fn iface(&self, id: &str, link: usize) -> Result<&Iface> {
        self.vnode(id)?
            .ifaces
            .iter()
            .find(|f| f.link == link)
            .ok_or_else(|| Error::Host(format!("vnode {id:?} has no end of link {link}")))
    }
}

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

    /// The handles opened so far, moved out (a [`super::pool::FleetPool`] keeps them).
    pub(crate) fn take_handles(&mut self) -> BTreeMap<String, VmHandle> {
        std::mem::take(&mut self.vms)
    }

    /// A fleet with this one's paths, SSH options and dry-run log that
    /// reaches only `vms` (any other is an error), starting with `handles`;
    /// the others of `vms` connect on first use.
    pub(crate) fn part(&self, vms: BTreeSet<String>, handles: BTreeMap<String, VmHandle>) -> Fleet {
        Fleet {
            paths: self.paths.clone(),
            specs: self.specs.clone(),
            ssh: self.ssh.clone(),
            vms: handles,
            dry_log: self.dry_log.clone(),
            only: Some(vms),
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
                    let target = parse_ssh_target(&s).map_err(|m| Error::Host(format!("VM {vm}: {m}")))?;
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
    fn link_kind(&mut self, x: &str, y: &str) -> Result<LinkKind> {
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
        .map_err(|e| Error::Host(format!("cannot resolve {host}: {e}")))?
        .find_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| Error::Host(format!("{host} has no IPv4 address (VXLAN tunnels use IPv4)")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Veth,
    /// Underlay addresses of the two VMs.
    Vxlan(Ipv4Addr, Ipv4Addr),
}

/// Where a vnode is: its VM and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub vm: String,
    pub netns: String,
}

impl Site {
    pub fn of(vnode: &str, vm: &str) -> Site {
        Site {
            vm: vm.to_string(),
            netns: names::netns_name(vnode, vm),
        }
    }
}

/// The site of every vnode under a placement.
pub fn sites(layout: &Layout, placement: &Placement) -> Result<BTreeMap<String, Site>> {
    layout
        .vnodes
        .keys()
        .map(|id| {
            let vm = placement
                .vm_of
                .get(id)
                .ok_or_else(|| Error::Host(format!("vnode {id:?} has no VM in the placement")))?;
            checked("VM", vm)?;
            Ok((id.clone(), Site::of(id, vm)))
        })
        .collect()
}

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployReport {
    pub vnodes: usize,
    pub veth_links: usize,
    pub vxlan_links: usize,
    /// Links with a `delay_ms` > 0, which cannot be emulated (no netem).
    pub delay_not_applied: usize,
    /// vnodes whose `run` command was started, with their pid.
    pub started: BTreeMap<String, u32>,
    /// The cgroup driver probed on each VM ([`super::cgroup::CgroupDriver::describe`]).
    pub cgroups: BTreeMap<String, String>,
    pub wall_s: f64,
}

fn netns_path(ns: &str) -> String {
    format!("/run/netns/{ns}")
}

/// Create namespaces (with `lo` up) on one VM, then make `/run/netns`
/// private (CRIU refuses shared bind mounts there).
///
/// Host-wide: every `ip netns add` makes `/run/netns` shared again, and the
/// first one on a machine bind-mounts it on itself (two at once can stack
/// two mounts, hiding the first one's namespace). Steps on different VMs of
/// one machine run in parallel, so this pair of commands takes that
/// machine's [`machine_lock`].
fn create_netns(ex: &mut dyn Executor, netns: &[String]) -> Result<()> {
    if netns.is_empty() {
        return Ok(());
    }
    let lock = machine_lock(ex);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let batch: String = netns.iter().map(|n| format!("netns add {n}\n")).collect();
    ex.run(&Cmd::new("ip").args(["-batch", "-"]).stdin(batch))?;
    ex.run(&Cmd::new("mount").args(["--make-rprivate", "/run/netns"]))?;
    Ok(())
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

/// Build links `ids` (topology indices) between the sites given, and
/// configure both ends (address, up, tbf). `fresh` namespaces also get `lo` up.
fn build_links(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    ids: &[usize],
    fresh: &BTreeSet<String>,
    report: &mut DeployReport,
) -> Result<()> {
    // Commands for each VM's root namespace, and per (vm, netns) in-namespace batches.
    let mut root: BTreeMap<String, String> = BTreeMap::new();
    let mut inner: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for ns in fresh {
        let site = at
            .values()
            .find(|s| &s.netns == ns)
            .ok_or_else(|| Error::Host(format!("unknown namespace {ns}")))?;
        inner
            .entry((site.vm.clone(), ns.clone()))
            .or_default()
            .0
            .push_str("link set lo up\n");
    }
    for &i in ids {
        let (a, b, delay) = &layout.links[i];
        if *delay > 0.0 {
            report.delay_not_applied += 1;
        }
        let (sa, sb) = (&at[a], &at[b]);
        let (ea, eb) = (layout.iface(a, i)?, layout.iface(b, i)?);
        match fleet.link_kind(&sa.vm, &sb.vm)? {
            LinkKind::Veth => {
                report.veth_links += 1;
                root.entry(sa.vm.clone()).or_default().push_str(&format!(
                    "link add {} netns {} type veth peer name {} netns {}\n",
                    ea.name, sa.netns, eb.name, sb.netns
                ));
                for (s, e) in [(sa, ea), (sb, eb)] {
                    configure_end(inner.entry((s.vm.clone(), s.netns.clone())).or_default(), e, None);
                }
            }
            LinkKind::Vxlan(ua, ub) => {
                report.vxlan_links += 1;
                let vni = names::vxlan_id(i)?;
                let tmp = names::vxlan_tmp_name(i);
                for (s, e, remote) in [(sa, ea, ub), (sb, eb, ua)] {
                    root.entry(s.vm.clone()).or_default().push_str(&format!(
                        "link add {tmp} type vxlan id {vni} remote {remote} dstport {VXLAN_PORT}\nlink set dev {tmp} netns {}\n",
                        s.netns
                    ));
                    configure_end(inner.entry((s.vm.clone(), s.netns.clone())).or_default(), e, Some(&tmp));
                }
            }
        }
    }
    for (vm, batch) in root {
        fleet
            .exec(&vm)?
            .run(&Cmd::new("ip").args(["-batch", "-"]).stdin(batch))?;
    }
    for ((vm, ns), (ip_batch, tc_batch)) in inner {
        let ex = fleet.exec(&vm)?;
        if !ip_batch.is_empty() {
            ex.run(&Cmd::new("ip").args(["-n", &ns, "-batch", "-"]).stdin(ip_batch))?;
        }
        if !tc_batch.is_empty() {
            ex.run(&Cmd::new("tc").args(["-n", &ns, "-batch", "-"]).stdin(tc_batch))?;
        }
    }
    Ok(())
}

/// Lines for `ip -n NS -batch` and `tc -n NS -batch` configuring one end.
fn configure_end(b: &mut (String, String), e: &Iface, vxlan_tmp: Option<&str>) {
    if let Some(tmp) = vxlan_tmp {
        b.0.push_str(&format!(
            "link set dev {tmp} name {}\nlink set dev {} mtu {VXLAN_MTU}\n",
            e.name, e.name
        ));
    }
    b.0.push_str(&format!(
        "addr add {}/{} dev {}\nlink set dev {} up\n",
        e.addr,
        names::LINK_PREFIX,
        e.name,
        e.name
    ));
    if e.mbps > 0.0 {
        b.1.push_str(&format!("qdisc replace dev {} root {}\n", e.name, tbf_params(e.mbps)));
    }
}

/// `tbf` arguments for a rate in Mbit/s: a burst of 10 ms at that rate (at
/// least 4 full frames) and 50 ms of queue.
pub fn tbf_params(mbps: f64) -> String {
    let rate_bps = (mbps * 1e6).round().max(8.0) as u64;
    let burst = (rate_bps / 8 / 100).max(4 * 1514);
    format!("tbf rate {rate_bps}bit burst {burst} latency 50ms")
}

/// Deploy a topology under a placement: namespaces, cgroups, state
/// directories, links, and the vnodes' `run` commands.
///
/// Nothing is touched if one of the namespaces exists already (a deployment
/// in place). A failure half-way removes what this deploy made and returns
/// [`Error::HostRecovered`].
pub fn deploy(fleet: &mut Fleet, layout: &Layout, placement: &Placement) -> Result<DeployReport> {
    let at = sites(layout, placement)?;
    let mut by_vm: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in at.values() {
        by_vm.entry(&s.vm).or_default().push(&s.netns);
    }
    for (vm, wanted) in by_vm {
        let ex = fleet.exec(vm)?;
        if ex.is_dry_run() {
            continue;
        }
        let listed = ex.run(&Cmd::new("ip").args(["netns", "list"]))?;
        let present: BTreeSet<&str> = listed.lines().filter_map(|l| l.split_whitespace().next()).collect();
        if let Some(ns) = wanted.iter().find(|n| present.contains(**n)) {
            return Err(Error::usage(format!(
                "VM {vm} already has namespace {ns}: this topology (or one with the same vnode ids) is deployed; \
                 tear it down first (netbalance migrate --teardown)"
            )));
        }
    }
    match deploy_fresh(fleet, layout, &at) {
        Ok(r) => Ok(r),
        Err(e) => match teardown(fleet, layout, placement) {
            Ok(()) => Err(Error::HostRecovered {
                message: format!("deploy failed: {e}; what it made was removed"),
            }),
            Err(e2) => Err(Error::Host(format!(
                "deploy failed: {e}; removing what it made failed too: {e2}"
            ))),
        },
    }
}

fn deploy_fresh(fleet: &mut Fleet, layout: &Layout, at: &BTreeMap<String, Site>) -> Result<DeployReport> {
    let t0 = Instant::now();
    let at = at.clone();
    let mut report = DeployReport {
        vnodes: at.len(),
        ..Default::default()
    };
    let mut by_vm: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, s) in &at {
        by_vm.entry(s.vm.clone()).or_default().push(id);
    }
    let paths = fleet.paths.clone();
    for (vm, ids) in &by_vm {
        let ex = fleet.exec(vm)?;
        paths.cgroups.setup(ex)?;
        if !ex.is_dry_run() {
            report.cgroups.insert(vm.clone(), paths.cgroups.driver(ex)?.describe());
        }
        let ns: Vec<String> = ids.iter().map(|id| at[*id].netns.clone()).collect();
        create_netns(ex, &ns)?;
        let mut dirs = vec!["-p".to_string(), "--".to_string()];
        for id in ids {
            let cg = &layout.vnodes[*id].cgroup;
            dirs.push(path_str(&paths.vnode_dir(cg))?.to_string());
            for d in paths.cgroups.dirs(ex, cg)? {
                dirs.push(d.display().to_string());
            }
        }
        ex.run(&Cmd::new("mkdir").args(dirs))?;
    }
    let fresh: BTreeSet<String> = at.values().map(|s| s.netns.clone()).collect();
    let all: Vec<usize> = (0..layout.links.len()).collect();
    build_links(fleet, layout, &at, &all, &fresh, &mut report)?;
    for (id, s) in &at {
        let v = &layout.vnodes[id];
        if let Some(run) = &v.run {
            let pid = start_run(fleet.exec(&s.vm)?, &paths, &v.cgroup, &s.netns, run)?;
            report.started.insert(id.clone(), pid);
        }
    }
    report.wall_s = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// The fixed script that starts a vnode's `run` command, run inside the
/// vnode's network namespace. Data arrive only as positional parameters:
/// $1 [`INIT_SCRIPT`], $2 the state dir, $3 the command line, then the
/// `cgroup.procs` files of the vnode's groups.
///
/// The vnode is pid 1 of a pid namespace of its own (`unshare --pid
/// --fork`, as container runtimes do), so that CRIU restores it on any VM
/// whatever pids are taken there: only the pids inside its namespace are
/// restored as they were. That init joins the vnode's cgroups itself
/// (`echo 0`: the writer), becomes a session leader (CRIU dumps a tree
/// whose session leader is inside it), records its pid as the VM sees it
/// (`/proc/self` of the VM's /proc) and runs the command. This shell and
/// `unshare` stay outside the groups: `unshare` is the init's parent and
/// reaps it the moment a checkpoint kills it, so its pids are free at once
/// (pid 1 of the VM may take seconds to reap an orphan).
const START_SCRIPT: &str = r#"i=$1; cd "$2" || exit 1
r=$3; shift 3
unshare --pid --fork setsid sh -c "$i" netbalance-vnode "$r" "$@" </dev/null >>out.log 2>&1 &
exec </dev/null >/dev/null 2>&1
wait"#;

/// The vnode's init (see [`START_SCRIPT`]): $1 the command line, then the
/// cgroup.procs files to join.
const INIT_SCRIPT: &str = r#"r=$1; shift
for f; do echo 0 >"$f" || exit 1; done
read -r p _ </proc/self/stat && echo "$p" >pid.tmp && mv pid.tmp pid || exit 1
exec sh -c "$r""#;

/// Start a vnode's `run` command in its namespaces and cgroups, detached
/// (under the keeper, else `setsid -f`); returns its pid on the VM once it
/// has written it.
pub fn start_run(ex: &mut dyn Executor, paths: &Paths, cgroup: &str, netns: &str, run: &str) -> Result<u32> {
    let dir = paths.vnode_dir(cgroup);
    let pidfile = dir.join("pid");
    let _ = ex.output(&Cmd::new("rm").args(["-f", "--", path_str(&pidfile)?]))?;
    let join: Vec<String> = paths
        .cgroups
        .procs_files(ex, cgroup)?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let start = Cmd::new("nsenter")
        .args([
            format!("--net={}", netns_path(netns)),
            "--".into(),
            "sh".into(),
            "-c".into(),
            START_SCRIPT.into(),
            "netbalance-vnode".into(),
            INIT_SCRIPT.into(),
            path_str(&dir)?.into(),
            run.into(),
        ])
        .args(join);
    // Under the keeper (which detaches itself), or detached with `setsid -f`.
    let start = match paths.keeper_on(ex)? {
        Some(k) => under_keeper(&k, start, true),
        None => Cmd::new("setsid").arg("-f").arg(start.program).args(start.args),
    };
    ex.run(&start)?;
    let pid = wait_pidfile(ex, &pidfile, Duration::from_secs(10))?;
    wait_session_leader(ex, pid, Duration::from_secs(10))?;
    Ok(pid)
}

/// Wait until `pid` leads its own session: the pid file is written right
/// after the fork, before the child's `setsid` has run, and CRIU refuses to
/// dump a tree whose root is not a session leader.
fn wait_session_leader(ex: &mut dyn Executor, pid: u32, timeout: Duration) -> Result<()> {
    if ex.is_dry_run() {
        return Ok(());
    }
    let stat = std::path::PathBuf::from(format!("/proc/{pid}/stat"));
    let t0 = Instant::now();
    loop {
        // fields after the command's closing parenthesis: state ppid pgrp session …
        let text = String::from_utf8_lossy(&ex.read_file(&stat)?).to_string();
        let session = text
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(3)?.parse::<u32>().ok());
        if session == Some(pid) {
            return Ok(());
        }
        if t0.elapsed() > timeout {
            return Err(Error::Host(format!(
                "{}: vnode process {pid} did not become a session leader within {timeout:?}",
                ex.label()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Wait until a pid file exists and holds a number.
pub fn wait_pidfile(ex: &mut dyn Executor, pidfile: &std::path::Path, timeout: Duration) -> Result<u32> {
    if ex.is_dry_run() {
        return Ok(0);
    }
    let t0 = Instant::now();
    loop {
        if ex.exists(pidfile)? {
            let text = String::from_utf8_lossy(&ex.read_file(pidfile)?).trim().to_string();
            if let Ok(pid) = text.parse() {
                return Ok(pid);
            }
        }
        if t0.elapsed() > timeout {
            return Err(Error::Host(format!(
                "{}: {} did not appear within {timeout:?}",
                ex.label(),
                pidfile.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The pid of process `pid` (as the VM sees it) in its own pid namespace:
/// the last field of `NSpid` in `/proc/PID/status` (a vnode's root: 1).
/// `None` if the process is gone.
pub fn inner_pid(ex: &mut dyn Executor, pid: u32) -> Result<Option<u32>> {
    if ex.is_dry_run() {
        return Ok(Some(1));
    }
    let status = match ex.read_file(std::path::Path::new(&format!("/proc/{pid}/status"))) {
        Ok(b) => String::from_utf8_lossy(&b).to_string(),
        Err(_) => return Ok(None),
    };
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last()?.parse().ok()))
}

/// The pid of a vnode's `run` process, if it has one and it is alive.
pub fn running_pid(ex: &mut dyn Executor, paths: &Paths, cgroup: &str) -> Result<Option<u32>> {
    let pidfile = paths.vnode_dir(cgroup).join("pid");
    if !ex.exists(&pidfile)? {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&ex.read_file(&pidfile)?).trim().to_string();
    let pid: u32 = match text.parse() {
        Ok(p) => p,
        Err(_) => return Ok(None),
    };
    let alive = ex.exists(std::path::Path::new(&format!("/proc/{pid}")))?;
    Ok(alive.then_some(pid))
}

/// Remove everything of the given vnodes (default: all) under a placement:
/// processes, namespaces (and so their links), cgroups, state directories.
/// Things already gone are not an error.
pub fn teardown(fleet: &mut Fleet, layout: &Layout, placement: &Placement) -> Result<()> {
    let at = sites(layout, placement)?;
    let paths = fleet.paths.clone();
    let mut errors = Vec::new();
    for (id, s) in &at {
        let cg = layout.vnodes[id].cgroup.clone();
        let ex = fleet.exec(&s.vm)?;
        if let Err(e) = remove_vnode(ex, &paths, &cg, &s.netns, true) {
            errors.push(format!("{id}: {e}"));
        }
    }
    // The cgroup subtree goes once no vnode group is left in it.
    let vms: BTreeSet<&String> = at.values().map(|s| &s.vm).collect();
    for vm in vms {
        if let Err(e) = paths.cgroups.cleanup(fleet.exec(vm)?) {
            errors.push(format!("{vm}: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Host(format!(
            "teardown left things behind: {}",
            errors.join("; ")
        )))
    }
}

/// Remove one vnode's processes, namespace, cgroups and (if `state`) its
/// state directory from one VM.
pub fn remove_vnode(ex: &mut dyn Executor, paths: &Paths, cgroup: &str, netns: &str, state: bool) -> Result<()> {
    paths.cgroups.kill_and_remove(ex, cgroup)?;
    let out = ex.output(&Cmd::new("ip").args(["netns", "del", netns]))?;
    if !out.success() && ex.exists(std::path::Path::new(&netns_path(netns)))? {
        return Err(Error::Host(format!(
            "{}: ip netns del {netns}: {}",
            ex.label(),
            out.stderr_str().trim()
        )));
    }
    if state {
        ex.run(&Cmd::new("rm").args(["-rf", "--one-file-system", "--", path_str(&paths.vnode_dir(cgroup))?]))?;
    }
    Ok(())
}

/// A fresh name for a peer's old veth end that a move retires (`nbo` + 8
/// hex digits: unique per call in this process, short enough for an
/// interface name).
fn retired_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed =
        nanos ^ std::process::id().rotate_left(16) ^ N.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9);
    format!("nbo{mixed:08x}")
}

/// Re-attach a vnode's links at its new site after a move from `old`
/// (`at` holds the new site). Like [`reattach`] with `create`, but a peer's
/// old end of a veth link is only taken down, stripped of its address and
/// renamed, not deleted: deleting a veth waits for the kernel's RCU grace
/// periods (20–30 ms each here), and the old end goes anyway, with its
/// pair, when the vnode's old namespace is deleted after the move. Old ends
/// of VXLAN links (their pair is on another machine) are deleted.
///
/// With `hold`, the new namespace drops every incoming IP packet (nftables
/// table [`HOLD_TABLE`]) from before its links come up until
/// [`release_hold`]: a packet reaching it before `criu restore` has put a
/// connection's socket back would be answered with a RST (seen here: a
/// peer's retransmission arriving between re-attach and restore reset the
/// connection). CRIU locks only the namespace it dumps from.
pub fn reattach_after_move(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    vnode: &str,
    old: &Site,
    hold: bool,
) -> Result<DeployReport> {
    let v = layout.vnode(vnode)?.clone();
    let site = at
        .get(vnode)
        .ok_or_else(|| Error::Host(format!("no site for {vnode}")))?
        .clone();
    let mut report = DeployReport::default();
    create_netns(fleet.exec(&site.vm)?, std::slice::from_ref(&site.netns))?;
    if hold {
        let rules = format!(
            "table inet {HOLD_TABLE} {{\n  chain input {{ type filter hook input priority -300; policy drop; }}\n}}\n"
        );
        fleet.exec(&site.vm)?.run(
            &Cmd::new("nsenter")
                .args([
                    format!("--net={}", netns_path(&site.netns)),
                    "--".into(),
                    "nft".into(),
                    "-f".into(),
                    "-".into(),
                ])
                .stdin(rules),
        )?;
    }
    let fresh = BTreeSet::from([site.netns.clone()]);
    // One batch per peer namespace.
    let mut retire: BTreeMap<(String, String), String> = BTreeMap::new();
    for f in &v.ifaces {
        let ps = &at[&f.peer];
        let lines = retire.entry((ps.vm.clone(), ps.netns.clone())).or_default();
        match fleet.link_kind(&old.vm, &ps.vm)? {
            LinkKind::Veth => lines.push_str(&format!(
                "link set dev {i} down\naddr flush dev {i}\nlink set dev {i} name {}\n",
                retired_name(),
                i = f.peer_if
            )),
            LinkKind::Vxlan(..) => lines.push_str(&format!("link del dev {}\n", f.peer_if)),
        }
    }
    for ((vm, ns), lines) in retire {
        // As in `reattach`, a missing old end is no error; a name still in
        // use makes the link creation below fail.
        let _ = fleet
            .exec(&vm)?
            .output(&Cmd::new("ip").args(["-n", &ns, "-batch", "-"]).stdin(lines))?;
    }
    let ids: Vec<usize> = v.ifaces.iter().map(|f| f.link).collect();
    build_links(fleet, layout, at, &ids, &fresh, &mut report)?;
    Ok(report)
}

/// The nftables table that holds a restored vnode's input (see [`reattach_after_move`]).
pub const HOLD_TABLE: &str = "netbalance-hold";

/// Let packets into a namespace held by [`reattach_after_move`] again.
pub fn release_hold(ex: &mut dyn Executor, netns: &str) -> Result<()> {
    ex.run(&Cmd::new("nsenter").args([
        format!("--net={}", netns_path(netns)),
        "--".into(),
        "nft".into(),
        "delete".into(),
        "table".into(),
        "inet".into(),
        HOLD_TABLE.into(),
    ]))?;
    Ok(())
}

/// Re-attach a vnode's links at a new site: the peers' old ends are
/// deleted and every link of the vnode is made again between `new` and the
/// peer's site in `at` (which must hold the vnode's new site). Creates the
/// new namespace first if `create` is set.
pub fn reattach(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    vnode: &str,
    create: bool,
) -> Result<DeployReport> {
    let v = layout.vnode(vnode)?.clone();
    let site = at
        .get(vnode)
        .ok_or_else(|| Error::Host(format!("no site for {vnode}")))?
        .clone();
    let mut report = DeployReport::default();
    let mut fresh = BTreeSet::new();
    if create {
        create_netns(fleet.exec(&site.vm)?, std::slice::from_ref(&site.netns))?;
        fresh.insert(site.netns.clone());
    }
    for f in &v.ifaces {
        let ps = &at[&f.peer];
        let _ = fleet
            .exec(&ps.vm)?
            .output(&Cmd::new("ip").args(["-n", &ps.netns, "link", "del", &f.peer_if]))?;
        // A leftover end of ours (when re-attaching in place) goes too.
        if !create {
            let _ = fleet
                .exec(&site.vm)?
                .output(&Cmd::new("ip").args(["-n", &site.netns, "link", "del", &f.name]))?;
        }
    }
    let ids: Vec<usize> = v.ifaces.iter().map(|f| f.link).collect();
    build_links(fleet, layout, at, &ids, &fresh, &mut report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Link, Vnode};

    fn topo() -> Topology {
        let mut t = Topology::default();
        for i in 0..3 {
            t.vnodes.push(Vnode::new(format!("n{i}")));
        }
        t.links.push(Link::new("n0", "n1", 100.0));
        t.links.push(Link::new("n1", "n2", 10.0));
        t
    }

    #[test]
    fn layout_names_interfaces_in_link_order() {
        let l = Layout::new(&topo()).unwrap();
        let n1 = &l.vnodes["n1"];
        assert_eq!(n1.ifaces.len(), 2);
        assert_eq!(
            (
                n1.ifaces[0].name.as_str(),
                n1.ifaces[0].peer.as_str(),
                n1.ifaces[0].peer_if.as_str()
            ),
            ("eth0", "n0", "eth0")
        );
        assert_eq!((n1.ifaces[1].name.as_str(), n1.ifaces[1].peer.as_str()), ("eth1", "n2"));
        assert_eq!(n1.ifaces[0].addr, Ipv4Addr::new(10, 64, 0, 2));
        assert_eq!(l.iface("n2", 1).unwrap().addr, Ipv4Addr::new(10, 64, 0, 6));
    }

    #[test]
    fn layout_refuses_unsafe_ids() {
        let mut t = topo();
        t.vnodes.push(Vnode::new("x;reboot"));
        assert!(Layout::new(&t).is_err());
    }

    #[test]
    fn tbf_parameters() {
        assert_eq!(tbf_params(100.0), "tbf rate 100000000bit burst 125000 latency 50ms");
        assert_eq!(tbf_params(1.0), "tbf rate 1000000bit burst 6056 latency 50ms");
    }

    #[test]
    fn dry_run_deploy_lists_every_command() {
        let tb = Testbed::generate(1, 2, 1000.0);
        let t = topo();
        let l = Layout::new(&t).unwrap();
        let mut p = Placement::default();
        p.vm_of.insert("n0".into(), "h0-v0".into());
        p.vm_of.insert("n1".into(), "h0-v0".into());
        p.vm_of.insert("n2".into(), "h0-v1".into());
        let (mut fleet, log) = Fleet::dry_run(&tb, Paths::default());
        let r = deploy(&mut fleet, &l, &p).unwrap();
        assert_eq!((r.vnodes, r.veth_links, r.vxlan_links), (3, 2, 0));
        let log = log.lock().unwrap().join("\n");
        let ns0 = names::netns_name("n0", "h0-v0");
        let ns1 = names::netns_name("n1", "h0-v0");
        let ns2 = names::netns_name("n2", "h0-v1");
        assert!(log.contains(&format!("netns add {ns0}")), "{log}");
        assert!(
            log.contains(&format!(
                "link add eth0 netns {ns0} type veth peer name eth0 netns {ns1}"
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "link add eth1 netns {ns1} type veth peer name eth0 netns {ns2}"
            )),
            "{log}"
        );
        assert!(
            log.contains("qdisc replace dev eth1 root tbf rate 10000000bit"),
            "{log}"
        );
        assert!(log.contains("mount --make-rprivate /run/netns"), "{log}");
    }

    #[test]
    fn dry_run_remote_vms_use_vxlan() {
        let mut tb = Testbed::generate(2, 1, 1000.0);
        tb.hosts[0].vms[0].ssh = Some("root@192.0.2.1".into());
        tb.hosts[1].vms[0].ssh = Some("root@192.0.2.2".into());
        let t = topo();
        let l = Layout::new(&t).unwrap();
        let mut p = Placement::default();
        p.vm_of.insert("n0".into(), "h0-v0".into());
        p.vm_of.insert("n1".into(), "h1-v0".into());
        p.vm_of.insert("n2".into(), "h1-v0".into());
        let (mut fleet, log) = Fleet::dry_run(&tb, Paths::default());
        let r = deploy(&mut fleet, &l, &p).unwrap();
        assert_eq!((r.veth_links, r.vxlan_links), (1, 1));
        let log = log.lock().unwrap().join("\n");
        assert!(
            log.contains("link add nbx0 type vxlan id 1 remote 192.0.2.2 dstport 4789"),
            "{log}"
        );
        assert!(
            log.contains("link add nbx0 type vxlan id 1 remote 192.0.2.1 dstport 4789"),
            "{log}"
        );
        assert!(log.contains("link set dev nbx0 name eth0"), "{log}");
    }
}
