//! A vnode's network: its namespace (with `lo` up), its links as veth pairs
//! (both ends on one machine) or VXLAN tunnels (between VMs), addresses, a
//! `tc tbf` rate limit on each end, and the re-attachment of its links after
//! a move (with the hold that keeps packets out until the restore).
//!
//! Link delay (`delay_ms`, each way) is emulated with `netem` where the
//! VM's kernel has `sch_netem` ([`has_netem`], probed once per machine):
//! then netem also limits the rate (its own `rate`), in place of `tbf`.
//! Where it has not (this development machine), the delay is not applied
//! and [`DeployReport::delay_not_applied`] counts those link ends.

use super::batch::{LinkBatches, NsLines};
use super::exec::{Cmd, Executor};
use super::fleet::{machine_lock, Fleet, LinkKind};
use super::layout::{Iface, Layout};
use super::names::{self, checked};
use crate::error::{Error, Result};
use crate::model::Placement;
use std::collections::{BTreeMap, BTreeSet};

/// UDP port of our VXLAN tunnels.
pub const VXLAN_PORT: u16 = 4789;
/// MTU of a VXLAN link (1500 minus 50 bytes of encapsulation).
pub const VXLAN_MTU: u32 = 1450;

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
    /// Link ends with a `delay_ms` > 0 on a VM without netem (not applied).
    pub delay_not_applied: usize,
    /// Link ends given their delay with netem.
    pub delay_applied: usize,
    /// vnodes whose `run` command was started, with their pid.
    pub started: BTreeMap<String, u32>,
    /// The cgroup driver probed on each VM ([`super::cgroup::CgroupDriver::describe`]).
    pub cgroups: BTreeMap<String, String>,
    pub wall_s: f64,
}

pub(crate) fn netns_path(ns: &str) -> String {
    format!("/run/netns/{ns}")
}

/// Create namespaces on one VM, each a file under `/run/netns` with the
/// namespace bind-mounted on it (what `ip netns add` makes).
///
/// `/run/netns` is first made a mount point of its own, private, no peer
/// of `/run` ([`NETNS_DIR_SCRIPT`]): CRIU refuses shared bind mounts there,
/// and on systemd hosts `/run` is shared, so every namespace file mounted
/// below a peer of it propagates to the hidden `/run/netns` of `/run` too;
/// `ip netns del` then fails with `Cannot remove namespace file …: Device
/// or resource busy`, and the namespace and the VXLAN devices in it stay (a
/// new tunnel with the same VNI fails with `RTNETLINK answers: File
/// exists`; seen on a Debian 12 lab VM).
///
/// The namespaces are made with `unshare --net=FILE`, not `ip netns add`,
/// which makes `/run/netns` shared again each time (and needed a remount
/// after it, under a lock). The first call on a machine in this process
/// takes that machine's [`machine_lock`]: two first bind mounts of
/// `/run/netns` at once would stack, hiding the first one's namespaces.
/// Later calls find the mount point and run without the lock, so steps on
/// different VMs of one machine make their namespaces at once
/// ([`make_netns_lines`] makes it private again each time).
pub(crate) fn create_netns(ex: &mut dyn Executor, netns: &[String]) -> Result<()> {
    if netns.is_empty() {
        return Ok(());
    }
    prepare_netns_dir(ex)?;
    ex.run(&Cmd::new("sh").arg("-s").stdin(make_netns_lines(netns)))?;
    Ok(())
}

/// Make `/run/netns` a private mount point ([`NETNS_DIR_SCRIPT`]), once per
/// machine in this process, under the machine's lock (see [`create_netns`]).
pub(crate) fn prepare_netns_dir(ex: &mut dyn Executor) -> Result<()> {
    use std::sync::{Mutex, OnceLock};
    static PREPARED: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let machine = ex.machine().unwrap_or_else(|| ex.label());
    let prepared = PREPARED.get_or_init(Default::default);
    if prepared.lock().unwrap_or_else(|e| e.into_inner()).contains(&machine) {
        return Ok(());
    }
    let lock = machine_lock(ex);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    ex.run(&Cmd::new("sh").args(["-c", NETNS_DIR_SCRIPT]))?;
    if !ex.is_dry_run() {
        prepared.lock().unwrap_or_else(|e| e.into_inner()).insert(machine);
    }
    Ok(())
}

/// Shell lines that make the namespaces `netns` (refusing one that exists),
/// for a script run after [`prepare_netns_dir`]. `/run/netns` is made
/// private again first, recursively (a few ms): an `ip netns add` by
/// anyone since makes it shared. Namespace names are derived
/// ([`names::netns_name`]: `[a-z0-9-]` only) and need no quoting.
pub(crate) fn make_netns_lines(netns: &[String]) -> String {
    let mut s = String::from("mount --make-rprivate /run/netns || exit 1\n");
    for ns in netns {
        let f = netns_path(ns);
        s.push_str(&format!(
            "{{ [ ! -e {f} ] || {{ echo 'netbalance: namespace {ns} exists' >&2; exit 1; }}; }}; \
             : > {f} && unshare --net={f} true </dev/null || {{ rm -f {f}; echo 'netbalance: making namespace {ns} failed' >&2; exit 1; }}\n"
        ));
    }
    s
}

/// Make `/run/netns` a mount point of its own, in no peer group (see
/// `create_netns`); idempotent, a few ms.
pub const NETNS_DIR_SCRIPT: &str = "mkdir -p /run/netns && { mountpoint -q /run/netns || mount --bind /run/netns /run/netns; } && mount --make-private /run/netns";

/// Build links `ids` (topology indices) between the sites given, and
/// configure both ends (address, up, tbf). `fresh` namespaces also get `lo` up.
pub(crate) fn build_links(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    ids: &[usize],
    fresh: &BTreeSet<String>,
    report: &mut DeployReport,
) -> Result<()> {
    let mut batches = LinkBatches::default();
    plan_links(fleet, layout, at, ids, fresh, report, &mut batches)?;
    batches.apply(fleet)
}

/// Add to `batches` the commands of [`build_links`].
fn plan_links(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    ids: &[usize],
    fresh: &BTreeSet<String>,
    report: &mut DeployReport,
    batches: &mut LinkBatches,
) -> Result<()> {
    let LinkBatches { root, inner, .. } = batches;
    for ns in fresh {
        let site = at
            .values()
            .find(|s| &s.netns == ns)
            .ok_or_else(|| Error::Host(format!("unknown namespace {ns}")))?;
        inner
            .entry((site.vm.clone(), ns.clone()))
            .or_default()
            .ip
            .push_str("link set lo up\n");
    }
    for &i in ids {
        let (a, b, delay) = &layout.links[i];
        let (sa, sb) = (&at[a], &at[b]);
        // Each end delays its egress: `delay_ms` each way.
        let mut delay_of = |vm: &str| -> Result<f64> {
            if *delay <= 0.0 {
                return Ok(0.0);
            }
            if has_netem(fleet.exec(vm)?)? {
                report.delay_applied += 1;
                Ok(*delay)
            } else {
                report.delay_not_applied += 1;
                Ok(0.0)
            }
        };
        let (da, db) = (delay_of(&sa.vm)?, delay_of(&sb.vm)?);
        let (ea, eb) = (layout.iface(a, i)?, layout.iface(b, i)?);
        match fleet.link_kind(&sa.vm, &sb.vm)? {
            LinkKind::Veth => {
                report.veth_links += 1;
                let (ta, tb) = names::veth_tmp_names(i);
                root.entry(sa.vm.clone()).or_default().push_str(&format!(
                    "link add {ta} netns {} type veth peer name {tb} netns {}\n",
                    sa.netns, sb.netns
                ));
                for (s, e, t, d) in [(sa, ea, &ta, da), (sb, eb, &tb, db)] {
                    let b = inner.entry((s.vm.clone(), s.netns.clone())).or_default();
                    configure_end(b, e, t, None, d);
                }
            }
            LinkKind::Vxlan(ua, ub) => {
                report.vxlan_links += 1;
                let vni = names::vxlan_id(i)?;
                let tmp = names::vxlan_tmp_name(i);
                for (s, e, remote, d) in [(sa, ea, ub, da), (sb, eb, ua, db)] {
                    root.entry(s.vm.clone()).or_default().push_str(&format!(
                        "link add {tmp} type vxlan id {vni} remote {remote} dstport {VXLAN_PORT}\nlink set dev {tmp} netns {}\n",
                        s.netns
                    ));
                    let b = inner.entry((s.vm.clone(), s.netns.clone())).or_default();
                    configure_end(b, e, &tmp, Some(VXLAN_MTU), d);
                }
            }
        }
    }
    Ok(())
}

/// Lines for `ip -batch` and `tc -batch` in its namespace configuring one
/// end, made under the name `tmp` (`delay_ms` > 0: netem, which then also
/// limits the rate).
fn configure_end(b: &mut NsLines, e: &Iface, tmp: &str, mtu: Option<u32>, delay_ms: f64) {
    b.ip.push_str(&format!("link set dev {tmp} name {}\n", e.name));
    if let Some(mtu) = mtu {
        b.ip.push_str(&format!("link set dev {} mtu {mtu}\n", e.name));
    }
    b.ip.push_str(&format!(
        "addr add {}/{} dev {}\nlink set dev {} up\n",
        e.addr,
        names::LINK_PREFIX,
        e.name,
        e.name
    ));
    if delay_ms > 0.0 {
        b.tc.push_str(&format!(
            "qdisc replace dev {} root {}\n",
            e.name,
            netem_params(delay_ms, e.mbps)
        ));
    } else if e.mbps > 0.0 {
        b.tc.push_str(&format!("qdisc replace dev {} root {}\n", e.name, tbf_params(e.mbps)));
    }
}

/// `netem` arguments for a delay (ms, one way) and a rate in Mbit/s (0: no
/// limit): netem's own `rate`, and a queue of at least 1000 packets and
/// twice the packets in flight over the delay at that rate (full-size frames).
pub fn netem_params(delay_ms: f64, mbps: f64) -> String {
    let delay_us = (delay_ms * 1000.0).round().max(1.0) as u64;
    let (rate, limit) = if mbps > 0.0 {
        let rate_bps = (mbps * 1e6).round().max(8.0) as u64;
        let in_flight = rate_bps as f64 / 8.0 * delay_ms / 1000.0 / 1514.0;
        (
            format!(" rate {rate_bps}bit"),
            (2.0 * in_flight).ceil().max(1000.0) as u64,
        )
    } else {
        (String::new(), 10_000)
    };
    format!("netem delay {delay_us}us{rate} limit {limit}")
}

/// True if the VM's kernel has `sch_netem` (loaded, loadable or built in),
/// probed once per machine with one command. A dry run says no.
pub fn has_netem(ex: &mut dyn Executor) -> Result<bool> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    if ex.is_dry_run() {
        return Ok(false);
    }
    let key = ex.machine().unwrap_or_else(|| ex.label());
    let known = KNOWN.get_or_init(Default::default);
    if let Some(&k) = known.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(k);
    }
    let script = r#"test -d /sys/module/sch_netem || modprobe -q sch_netem 2>/dev/null
if test -d /sys/module/sch_netem || grep -qs '/sch_netem\.ko' "/lib/modules/$(uname -r)/modules.builtin"; then echo yes; fi"#;
    let out = ex.output(&Cmd::new("sh").args(["-c", script]))?;
    let yes = out.stdout_str().trim() == "yes";
    known.lock().unwrap_or_else(|e| e.into_inner()).insert(key, yes);
    Ok(yes)
}

/// `tbf` arguments for a rate in Mbit/s: a burst of 10 ms at that rate (at
/// least 4 full frames) and 50 ms of queue.
pub fn tbf_params(mbps: f64) -> String {
    let rate_bps = (mbps * 1e6).round().max(8.0) as u64;
    let burst = (rate_bps / 8 / 100).max(4 * 1514);
    format!("tbf rate {rate_bps}bit burst {burst} latency 50ms")
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
/// With `hold`, the new namespace drops every TCP and UDP packet coming in
/// over its links ([`hold_lines`]) from before they come up until
/// [`release_hold`]: a packet reaching it before `criu restore` has put a
/// connection's socket back would be answered with a RST (seen here: a
/// peer's retransmission arriving between re-attach and restore reset the
/// connection). CRIU locks only the namespace it dumps from. Loopback is
/// let through: `criu restore` itself probes TCP repair over a loopback
/// connection in that namespace when its kernel-feature cache is cold (a
/// fresh VM), and timed out against the hold.
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
    let mut batches = LinkBatches::default();
    prepare_netns_dir(fleet.exec(&site.vm)?)?;
    let first = batches.first_lines.entry(site.vm.clone()).or_default();
    first.push_str(&make_netns_lines(std::slice::from_ref(&site.netns)));
    let fresh = BTreeSet::from([site.netns.clone()]);
    // The peers' old ends are retired in the same command per VM that
    // makes the new links (a missing old end is no error; a name still in
    // use makes the link creation fail).
    for f in &v.ifaces {
        let ps = &at[&f.peer];
        let lines = batches.retire.entry((ps.vm.clone(), ps.netns.clone())).or_default();
        match fleet.link_kind(&old.vm, &ps.vm)? {
            LinkKind::Veth => lines.push_str(&format!(
                "link set dev {i} down\naddr flush dev {i}\nlink set dev {i} name {}\n",
                retired_name(),
                i = f.peer_if
            )),
            LinkKind::Vxlan(..) => lines.push_str(&format!("link del dev {}\n", f.peer_if)),
        }
    }
    let ids: Vec<usize> = v.ifaces.iter().map(|f| f.link).collect();
    plan_links(fleet, layout, at, &ids, &fresh, &mut report, &mut batches)?;
    if hold {
        // First in the namespace's batch: before any of its links is up.
        let ip = &mut batches
            .inner
            .entry((site.vm.clone(), site.netns.clone()))
            .or_default()
            .ip;
        ip.insert_str(0, &hold_lines(&v.ifaces));
    }
    batches.apply(fleet)?;
    Ok(report)
}

/// The rule preference of a held namespace's blackhole rules.
pub const HOLD_PREF: u32 = 100;

/// `ip -batch` lines that hold a fresh namespace's input (see
/// [`reattach_after_move`]): a blackhole rule per link and protocol (TCP,
/// UDP) for packets coming in over the link, ahead of the lookup of local
/// addresses, which moves from preference 0 to [`HOLD_PREF`] + 100 for
/// that. ARP passes (it looks up no protocol), so a peer has the new end's
/// address resolved when the hold ends; loopback and the namespace's own
/// output pass. An nftables table did the same, but every nftables commit
/// here waits for RCU (its removal took 12–30 ms of each move's pause;
/// these rules go in ~5 ms, [`release_hold`]).
///
/// ```
/// use netbalance::testbed::links::hold_lines;
/// use netbalance::testbed::Layout;
/// use netbalance::model::{Link, Topology, Vnode};
/// let topo = Topology { vnodes: vec![Vnode::new("a"), Vnode::new("b")], links: vec![Link::new("a", "b", 10.0)] };
/// let layout = Layout::new(&topo).unwrap();
/// let lines = hold_lines(&layout.vnode("a").unwrap().ifaces);
/// assert!(lines.contains("rule add pref 100 iif eth0 ipproto tcp blackhole"));
/// ```
pub fn hold_lines(ifaces: &[Iface]) -> String {
    let mut s = format!("rule add pref {} lookup local\nrule del pref 0\n", HOLD_PREF + 100);
    for f in ifaces {
        for proto in ["tcp", "udp"] {
            s.push_str(&format!(
                "rule add pref {HOLD_PREF} iif {} ipproto {proto} blackhole\n",
                f.name
            ));
        }
    }
    s
}

/// Let packets into a namespace held by [`reattach_after_move`] again:
/// its blackhole rules deleted (one `ip -batch`).
pub fn release_hold(ex: &mut dyn Executor, netns: &str, ifaces: &[Iface]) -> Result<()> {
    let lines = hold_lines(ifaces)
        .lines()
        .filter(|l| l.starts_with(&format!("rule add pref {HOLD_PREF} ")))
        .map(|l| format!("{}\n", l.replacen("rule add", "rule del", 1)))
        .collect::<String>();
    if lines.is_empty() {
        return Ok(());
    }
    let out = ex.output(
        &Cmd::new("nsenter")
            .args([
                format!("--net={}", netns_path(netns)),
                "ip".into(),
                "-batch".into(),
                "-".into(),
            ])
            .stdin(lines),
    )?;
    if !out.success() {
        return Err(Error::host_command(
            ex.label(),
            format!("releasing the hold of namespace {netns} (ip rule del)"),
            out.status,
            &out.stderr_str(),
        ));
    }
    Ok(())
}

/// Delete nftables table `family name` in namespace `netns`.
pub fn delete_nft_table(ex: &mut dyn Executor, netns: &str, family: &str, name: &str) -> Result<()> {
    ex.run(&Cmd::new("nsenter").args([
        format!("--net={}", netns_path(netns)),
        "--".into(),
        "nft".into(),
        "delete".into(),
        "table".into(),
        family.into(),
        name.into(),
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
    let mut batches = LinkBatches::default();
    for f in &v.ifaces {
        let ps = &at[&f.peer];
        batches
            .retire
            .entry((ps.vm.clone(), ps.netns.clone()))
            .or_default()
            .push_str(&format!("link del dev {}\n", f.peer_if));
        // A leftover end of ours (when re-attaching in place) goes too.
        if !create {
            batches
                .retire
                .entry((site.vm.clone(), site.netns.clone()))
                .or_default()
                .push_str(&format!("link del dev {}\n", f.name));
        }
    }
    let ids: Vec<usize> = v.ifaces.iter().map(|f| f.link).collect();
    plan_links(fleet, layout, at, &ids, &fresh, &mut report, &mut batches)?;
    batches.apply(fleet)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_parameters() {
        assert_eq!(netem_params(20.0, 0.0), "netem delay 20000us limit 10000");
        // 100 Mbit/s over 20 ms: 165 full frames in flight; the floor of 1000 holds.
        assert_eq!(
            netem_params(20.0, 100.0),
            "netem delay 20000us rate 100000000bit limit 1000"
        );
        // 10 Gbit/s over 50 ms: 41 281 frames in flight, twice that queued.
        assert_eq!(
            netem_params(50.0, 10_000.0),
            "netem delay 50000us rate 10000000000bit limit 82563"
        );
    }

    #[test]
    fn tbf_parameters() {
        assert_eq!(tbf_params(100.0), "tbf rate 100000000bit burst 125000 latency 50ms");
        assert_eq!(tbf_params(1.0), "tbf rate 1000000bit burst 6056 latency 50ms");
    }
}
