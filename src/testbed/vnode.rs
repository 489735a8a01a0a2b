//! The vnode lifecycle on VMs: deploy (namespaces, cgroups, state
//! directories, links, the `run` commands, each vnode pid 1 of its own pid
//! namespace), the pids to follow it by, and teardown.
//!
//! The pieces live in their own files and are re-exported here: names and
//! addresses ([`super::layout`]), the VMs ([`super::fleet`]), where things
//! are on a VM ([`super::paths`]), the network ([`super::links`]).

pub use super::fleet::{machine_lock, Fleet, VmHandle};
pub use super::layout::{Iface, Layout, VnodeLayout};
pub use super::links::{
    reattach, reattach_after_move, release_hold, sites, tbf_params, DeployReport, Site, HOLD_PREF, VXLAN_MTU,
    VXLAN_PORT,
};
pub use super::paths::{default_keeper, under_keeper, Paths};

use super::exec::{path_str, Cmd, Executor};
use super::links::{build_links, create_netns, netns_path};
use crate::error::{Error, Result};
use crate::model::Placement;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

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
        let listed = ex.list_dir(std::path::Path::new("/run/netns"))?;
        let present: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
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
                message: format!(
                    "deploy failed: {e}; what it made was removed",
                    e = crate::error::one_line(&e)
                ),
            }),
            Err(e2) => Err(Error::Host(format!(
                "deploy failed: {e}; removing what it made failed too: {e2}",
                e = crate::error::one_line(&e),
                e2 = crate::error::one_line(&e2)
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
/// restored as they were. It has a time namespace of its own too
/// (`--time`): CRIU restores it with offsets that continue its monotonic
/// and boot-time clocks, which would otherwise jump by the difference of
/// the two VMs' uptimes. That init joins the vnode's cgroups itself
/// (`echo 0`: the writer), becomes a session leader (CRIU dumps a tree
/// whose session leader is inside it), records its pid as the VM sees it
/// (`/proc/self` of the VM's /proc) and runs the command. This shell and
/// `unshare` stay outside the groups: `unshare` is the init's parent and
/// reaps it the moment a checkpoint kills it, so its pids are free at once
/// (pid 1 of the VM may take seconds to reap an orphan).
const START_SCRIPT: &str = r#"i=$1; cd "$2" || exit 1
r=$3; shift 3
unshare --pid --time --fork setsid sh -c "$i" netbalance-vnode "$r" "$@" </dev/null >>out.log 2>&1 &
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
    // `$NETBALANCE` in the run command: the netbalance binary on this VM.
    let keeper = paths.keeper_on(ex)?;
    let start = Cmd::new("env")
        .args(keeper.iter().map(|k| format!("NETBALANCE={k}")))
        .arg("nsenter")
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
    let start = match keeper {
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
            errors.push(format!("{id}: {e}", e = crate::error::one_line(&e)));
        }
    }
    // The cgroup subtree goes once no vnode group is left in it.
    let vms: BTreeSet<&String> = at.values().map(|s| &s.vm).collect();
    for vm in vms {
        if let Err(e) = paths.cgroups.cleanup(fleet.exec(vm)?) {
            errors.push(format!("{vm}: {e}", e = crate::error::one_line(&e)));
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
        return Err(Error::host_command(
            ex.label(),
            format!("ip netns del {netns}"),
            out.status,
            &out.stderr_str(),
        ));
    }
    if state {
        ex.remove_tree(&paths.vnode_dir(cgroup))?;
        ex.remove_tree(&super::precopy::dir(paths, cgroup))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Link, Testbed, Topology, Vnode};
    use crate::testbed::names;

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
        assert!(log.contains(&format!("unshare --net=/run/netns/{ns0} true")), "{log}");
        // Made under temporary names (the VM's own eth0 would collide), renamed inside.
        assert!(
            log.contains(&format!(
                "link add nbv0a netns {ns0} type veth peer name nbv0b netns {ns1}"
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "link add nbv1a netns {ns1} type veth peer name nbv1b netns {ns2}"
            )),
            "{log}"
        );
        assert!(log.contains("link set dev nbv1a name eth1"), "{log}");
        assert!(log.contains("link set dev nbv1b name eth0"), "{log}");
        assert!(
            log.contains("qdisc replace dev eth1 root tbf rate 10000000bit"),
            "{log}"
        );
        assert!(log.contains("mount --make-private /run/netns"), "{log}");
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
