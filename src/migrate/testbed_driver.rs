//! The real [`VnodeDriver`](super::driver::VnodeDriver): each step done on the VMs through
//! [`crate::testbed`] (network namespaces, veth/VXLAN links, cgroup freezer,
//! CRIU). Local VMs (no `ssh`) run on this machine, as root.
//!
//! Mapping of the steps, and the VMs each holds while it runs:
//!
//! | step | on the VM | holds |
//! |---|---|---|
//! | deploy | `testbed::deploy`: namespaces, cgroups, links, `run` commands | every VM |
//! | suspend / resume | freezer `FROZEN` / `THAWED` of each vnode with a process | its VM |
//! | checkpoint | `criu dump` in the source namespace, then wait until the dumped tasks are reaped; a vnode without `run` only gets an empty image (a marker) | the source (not during a local reap wait) |
//! | transfer | copy of the vnode's state dir (images) between machines (`testbed::transfer::copy`: direct TCP between the VMs, or tar over SSH); nothing between VMs of one machine (shared dir) | source and destination |
//! | restore | `criu::restore_moved`, as a standalone move: a fresh namespace that drops incoming packets, the vnode's links to its peers (their old veth ends retired, not deleted), `criu restore` in it (started in the vnode's groups), frozen, the hold released; a failure after the restore stops the restored tree again | the destination, the VM the driver last had the vnode on, its peers' VMs |
//! | reattach | the vnode's links made again to the peers' namespaces (skipped when the restore just made them to the same places) | the VMs of both ends of its links, before and after |
//! | remove | kill the vnode's tasks if they run in this VM's namespace, delete the namespace | its VM |
//! | discard_image / probe | delete the images / look at namespace, pid, images | its VM |
//!
//! A vnode "runs" on a VM if its namespace there exists and, for a vnode
//! with `run`, its recorded pid is alive inside that namespace.
//!
//! Concurrency: each VM's executor is behind its own lock
//! ([`FleetPool`]); a step takes the locks of the VMs it touches in sorted
//! order (no deadlock between steps that need several), so steps on
//! disjoint VMs run at once and steps sharing a VM one after another. The
//! driver's bookkeeping (where each vnode's namespace is, which links a
//! restore made) is under a separate lock held only to copy it at the
//! start of a step and to write its changes back at the end (O(n) for n
//! vnodes); a vnode's entry changes only in a step holding its VM, before
//! and after, so it is stable while a step holds that VM. Host-wide
//! commands of one machine that must not interleave (the first mount of
//! `/run/netns`) take a per-machine lock
//! ([`crate::testbed::vnode::machine_lock`]); `criu` runs on one machine in
//! parallel (docs/migrate.md).

use super::crash;
use super::timing::Timings;
use crate::error::{Error, Result};
use crate::model::{MigrationMode, Placement, PreCopyCosts, Topology};
use crate::testbed::cpu::CpuSample;
use crate::testbed::criu;
use crate::testbed::lazy::{self, Lazy};
use crate::testbed::precopy;
use crate::testbed::site::{self, safe_remove, wait_criu_done};
use crate::testbed::transfer::Copied;
use crate::testbed::vnode::{reattach, running_pid, sites};
use crate::testbed::{Fleet, FleetPool, Layout, Paths, Site};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod steps;

/// What the driver keeps between steps.
#[derive(Clone, Default)]
struct Book {
    /// Where each vnode's namespace is, as this driver last made or was told.
    at: BTreeMap<String, Site>,
    /// Per vnode, the peers' VMs its links were made to by its last restore.
    linked: BTreeMap<String, Vec<(String, String)>>,
}

impl Book {
    /// The part of the book a step holding `vms` may read and change: the
    /// vnodes on those VMs (no other step can move them meanwhile), with
    /// their `linked` entries. O(n) comparisons, copies only that part (a
    /// copy of the whole book per step was a fifth of a large migration's
    /// CPU).
    fn on(&self, vms: &BTreeSet<String>) -> Book {
        let mine = |id: &str| self.at.get(id).map_or(true, |s| vms.contains(&s.vm));
        Book {
            at: self
                .at
                .iter()
                .filter(|(_, s)| vms.contains(&s.vm))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect(),
            linked: self
                .linked
                .iter()
                .filter(|(k, _)| mine(k))
                .map(|(k, l)| (k.clone(), l.clone()))
                .collect(),
        }
    }
}

/// One step's view: a fleet of the VMs it holds, and its own copy of the
/// book's part about them ([`Book::on`]).
struct Inner<'a> {
    fleet: &'a mut Fleet,
    layout: &'a Layout,
    at: BTreeMap<String, Site>,
    linked: BTreeMap<String, Vec<(String, String)>>,
}

pub struct TestbedDriver {
    pool: FleetPool,
    layout: Layout,
    book: Mutex<Book>,
    timings: Timings,
    /// How vnodes with a process move (model §3.1): stop-copy or post-copy.
    mode: MigrationMode,
    /// Post-copy moves whose pages are still in flight, per vnode: from the
    /// checkpoint until [`discard_image`](super::driver::VnodeDriver::discard_image) has seen every page
    /// arrive (or the move failed).
    lazy: Mutex<BTreeMap<String, Lazy>>,
    /// Machines found able to move vnodes in `mode`
    /// ([`crate::testbed::lazy::require`], [`precopy::require`]), so that
    /// the check runs once per machine (all local VMs: one), not inside
    /// every move's pause.
    mode_ok: Mutex<BTreeSet<String>>,
    /// Pre-copy: when the rounds stop (model §3.1).
    rounds: PreCopyCosts,
    /// Pre-copy moves whose rounds are at the destination, per vnode: the
    /// source VM and the last round (its checkpoint dumps only what was
    /// dirtied since), until [`discard_image`](super::driver::VnodeDriver::discard_image).
    pre: Mutex<BTreeMap<String, (String, u32)>>,
}

/// How long a post-copy move may take to bring every page over.
const PAGES_TIMEOUT: Duration = Duration::from_secs(120);

/// Write into `live` the entries `new` changed relative to `old`: O(n log n).
fn merge<V: PartialEq + Clone>(live: &mut BTreeMap<String, V>, old: &BTreeMap<String, V>, new: &BTreeMap<String, V>) {
    for (k, v) in new {
        if old.get(k) != Some(v) {
            live.insert(k.clone(), v.clone());
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            live.remove(k);
        }
    }
}

impl TestbedDriver {
    /// A driver for `topology` on `fleet`; `current` is the placement in
    /// force (none before a deployment).
    pub fn new(fleet: Fleet, topology: &Topology, current: Option<&Placement>) -> Result<TestbedDriver> {
        let layout = Layout::new(topology)?;
        let at = match current {
            Some(p) => sites(&layout, p)?,
            None => BTreeMap::new(),
        };
        Ok(TestbedDriver {
            pool: FleetPool::new(fleet),
            layout,
            book: Mutex::new(Book {
                at,
                linked: BTreeMap::new(),
            }),
            timings: Timings::default(),
            mode: MigrationMode::StopCopy,
            lazy: Mutex::new(BTreeMap::new()),
            mode_ok: Mutex::new(BTreeSet::new()),
            rounds: PreCopyCosts::default(),
            pre: Mutex::new(BTreeMap::new()),
        })
    }

    /// Move vnodes in `mode` (model §3.1); pre-copy's rounds stop as the
    /// costs profile's `pre_copy` says.
    pub fn with_mode(mut self, mode: MigrationMode, rounds: PreCopyCosts) -> TestbedDriver {
        self.mode = mode;
        self.rounds = rounds;
        self
    }

    /// Refuse the driver's mode on a machine that cannot move that way
    /// ([`lazy::require`], [`precopy::require`]); checked once per machine
    /// (its VMs share its kernel and sysctls).
    fn mode_ready(&self, ex: &mut dyn crate::testbed::exec::Executor, paths: &Paths) -> Result<()> {
        let machine = ex.machine().unwrap_or_else(|| ex.label());
        let mut ok = self.mode_ok.lock().unwrap_or_else(|e| e.into_inner());
        if !ok.contains(&machine) {
            match self.mode {
                MigrationMode::PostCopy => lazy::require(ex, paths)?,
                MigrationMode::PreCopy => precopy::require(ex, paths)?,
                MigrationMode::StopCopy => {}
            }
            ok.insert(machine);
        }
        Ok(())
    }

    /// The CPU of `vms` now ([`CpuSample`]), to weigh what pre-copy's
    /// rounds take from them; `None` on a dry run or if a VM cannot say
    /// (the move goes on without the figure).
    fn cpu_now(&self, vms: &[&str]) -> Option<Vec<CpuSample>> {
        let read = |vm: &str| {
            self.on(vm, |d| {
                let paths = d.paths();
                let ex = d.fleet.exec(vm)?;
                if ex.is_dry_run() {
                    return Ok(None);
                }
                CpuSample::read(ex, &paths).map(Some)
            })
        };
        match vms.iter().map(|vm| read(vm)).collect::<Result<Option<Vec<_>>>>() {
            Ok(samples) => samples,
            Err(e) => {
                crate::info!("netbalance: pre-copy goes on without its CPU figure: {e:#}");
                None
            }
        }
    }

    fn pre(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, u32)>> {
        self.pre.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One pre-copy round of `vnode` on `from`, sent to `to`: its size in
    /// bytes, or `None` for a vnode without a process (nothing to copy).
    fn pre_round(&self, vnode: &str, from: &str, to: &str, round: u32) -> Result<Option<u64>> {
        let bytes = self.on(from, |d| {
            if !d.has_process(vnode)? {
                return Ok(None);
            }
            let (paths, cg) = (d.paths(), d.cgroup(vnode)?);
            self.mode_ready(d.fleet.exec(from)?, &paths)?;
            let ns = Site::of(vnode, from).netns;
            let pid = d
                .pid_in(from, vnode, &ns)?
                .ok_or_else(|| Error::Host(format!("{from}: {vnode} has no live process in {ns} to pre-copy")))?;
            let ex = d.fleet.exec(from)?;
            if round == 1 {
                safe_remove(ex, &precopy::dir(&paths, &cg))?;
            }
            precopy::pre_dump(ex, &paths, &cg, &ns, pid, round).map(Some)
        })?;
        if bytes.is_none() {
            return Ok(None);
        }
        crash::after("pre-dumped");
        self.send(vnode, from, to, |paths, cg| {
            let stale = (round == 1).then(|| precopy::dir(paths, cg));
            (precopy::round_dir(paths, cg, round), stale)
        })?;
        crash::after("pre-copied");
        Ok(bytes)
    }

    /// Copy one of `vnode`'s directories from `from` to the same path on
    /// `to` (the direct TCP copy; nothing between VMs of one machine, which
    /// share the state root). `dirs` names it from the paths and the
    /// vnode's cgroup, with what to remove on `to` first, if anything.
    fn send(
        &self,
        vnode: &str,
        from: &str,
        to: &str,
        dirs: impl FnOnce(&Paths, &str) -> (PathBuf, Option<PathBuf>),
    ) -> Result<Copied> {
        self.with(
            |_| BTreeSet::from([from.to_string(), to.to_string()]),
            |d| {
                let (a, b) = (d.fleet.machine(from)?, d.fleet.machine(to)?);
                if a.is_some() && a == b {
                    return Ok(Default::default());
                }
                let paths = d.paths();
                let (dir, clear) = dirs(&paths, &d.cgroup(vnode)?);
                if let Some(c) = clear {
                    safe_remove(d.fleet.exec(to)?, &c)?;
                }
                let route = d.fleet.route(to)?;
                d.fleet
                    .with_pair(from, to, |s, t| crate::testbed::transfer::copy(s, t, &dir, &route))
            },
        )
    }

    fn lazy(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Lazy>> {
        self.lazy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until a post-copy move of `vnode` has all its pages at the
    /// destination (nothing to wait for after a stop-copy move).
    fn finish_pages(&self, vnode: &str) -> Result<()> {
        let Some(l) = self.lazy().remove(vnode) else {
            return Ok(());
        };
        let paged = l.finish(PAGES_TIMEOUT, &mut |vm, f| self.on(vm, |d| f(d.fleet.exec(vm)?)))?;
        self.timings.paged(vnode, paged);
        Ok(())
    }

    /// What each step took, per move (the last move of every vnode that moved).
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// The fleet back (with its open connections), once the driver is done.
    pub fn into_fleet(self) -> Fleet {
        self.pool.into_fleet()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run step `f` holding the VMs `needs` names (given the book). The
    /// book may change while the locks are awaited: it is read again once
    /// they are held, and if the step now needs a VM it does not hold, all
    /// are released and taken again with that one. `f`'s changes to its
    /// copy of the book are written back before the VMs are released, also
    /// when it fails.
    fn with<T>(&self, needs: impl Fn(&Book) -> BTreeSet<String>, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let mut want = needs(&self.book());
        loop {
            let mut held = self.pool.hold(&want)?;
            let (now, old) = {
                let book = self.book();
                (needs(&book), book.on(&want))
            };
            if !now.is_subset(&want) {
                drop(held);
                want.extend(now);
                continue;
            }
            let mut d = Inner {
                fleet: &mut held.fleet,
                layout: &self.layout,
                at: old.at.clone(),
                linked: old.linked.clone(),
            };
            let r = f(&mut d);
            let (at, linked) = (d.at, d.linked);
            let mut book = self.book();
            merge(&mut book.at, &old.at, &at);
            merge(&mut book.linked, &old.linked, &linked);
            return r;
        }
    }

    /// [`Self::with`] holding one VM.
    fn on<T>(&self, vm: &str, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        self.with(|_| BTreeSet::from([vm.to_string()]), f)
    }

    /// The VMs a step on `vnode` touches besides its own: where the book
    /// has it now, and its peers.
    fn around(&self, book: &Book, vnode: &str) -> BTreeSet<String> {
        let mut vms = BTreeSet::new();
        let mut add = |id: &str| {
            if let Some(s) = book.at.get(id) {
                vms.insert(s.vm.clone());
            }
        };
        add(vnode);
        if let Ok(v) = self.layout.vnode(vnode) {
            for f in &v.ifaces {
                add(&f.peer);
            }
        }
        vms
    }

    /// `vm` and the VM the book puts `vnode` on (for [`Inner::state_dir_in_use`]).
    fn and_where_it_runs(vm: &str, vnode: &str) -> impl Fn(&Book) -> BTreeSet<String> {
        let (vm, vnode) = (vm.to_string(), vnode.to_string());
        move |b: &Book| {
            let mut vms = BTreeSet::from([vm.clone()]);
            vms.extend(b.at.get(&vnode).map(|s| s.vm.clone()));
            vms
        }
    }

    /// Wait until `pids` have left the process table of `vm` (10 s at
    /// most). On this machine the wait holds no lock; on a remote VM it
    /// polls over the VM's connection, holding it.
    fn wait_reaped(&self, vm: &str, pids: &[u32]) -> Result<()> {
        if pids.is_empty() {
            return Ok(());
        }
        let local = self.on(vm, |d| Ok(d.fleet.machine(vm)?.as_deref() == Some("local")))?;
        if !local {
            return self.on(vm, |d| {
                let ex = d.fleet.exec(vm)?;
                pids.iter()
                    .try_for_each(|&p| criu::wait_gone(ex, p, Duration::from_secs(10)))
            });
        }
        site::wait_gone_here(pids, Duration::from_secs(10))
    }
}

impl Inner<'_> {
    fn paths(&self) -> Paths {
        self.fleet.paths.clone()
    }
    fn cgroup(&self, vnode: &str) -> Result<String> {
        Ok(self.layout.vnode(vnode)?.cgroup.clone())
    }
    fn has_process(&self, vnode: &str) -> Result<bool> {
        Ok(self.layout.vnode(vnode)?.run.is_some())
    }
    fn images(&self, vnode: &str) -> Result<PathBuf> {
        Ok(self.fleet.paths.vnode_dir(&self.cgroup(vnode)?).join("images"))
    }

    /// The vnode's live pid if it runs inside namespace `ns` of this VM.
    fn pid_in(&mut self, vm: &str, vnode: &str, ns: &str) -> Result<Option<u32>> {
        let (paths, cg) = (self.paths(), self.cgroup(vnode)?);
        site::pid_in(self.fleet.exec(vm)?, &paths, &cg, ns)
    }

    /// Take up what a post-copy move of `vnode` from `vm`, cut short by a
    /// crash of the program that ran it, left on `vm`: a page server that
    /// nobody will connect to is stopped, and the dumped tasks (frozen,
    /// their memory intact: pages are copied from them, not moved) are
    /// dumped whole, so that `vm` holds a complete image as after a
    /// stop-copy dump and the recovery goes on from there. Returns the
    /// dumped tree's pids (to be reaped before a restore).
    fn take_up_post_copy(&mut self, vm: &str, vnode: &str) -> Result<Vec<u32>> {
        if !self.has_process(vnode)? {
            return Ok(Vec::new());
        }
        let (paths, cg, images) = (self.paths(), self.cgroup(vnode)?, self.images(vnode)?);
        let ex = self.fleet.exec(vm)?;
        if !lazy::is_lazy_image(ex, &images)? {
            return Ok(Vec::new());
        }
        if lazy::stop_orphan_server(ex, &images)? {
            crate::info!("netbalance: {vm}: stopped the page server of a post-copy move of {vnode} cut short");
        }
        // A daemon and restore at work: their pages arrive, then they end.
        wait_criu_done(ex, &images)?;
        let ns = Site::of(vnode, vm).netns;
        let Some(pid) = self.pid_in(vm, vnode, &ns)? else {
            return Ok(Vec::new()); // its pages all served (the tasks are gone), or not the source
        };
        crate::info!("netbalance: {vm}: {vnode} was left frozen by a post-copy move cut short: dumping it whole");
        let ex = self.fleet.exec(vm)?;
        lazy::unlock_network(ex, &ns)?;
        safe_remove(ex, &images)?;
        paths.cgroups.freeze(ex, &cg)?;
        criu::dump_frozen(ex, &paths, &cg, &ns, pid, None, criu::DUMP_ATTEMPTS)
    }

    fn runs_at(&mut self, vm: &str, vnode: &str) -> Result<bool> {
        let ns = Site::of(vnode, vm).netns;
        if !site::netns_exists(self.fleet.exec(vm)?, &ns)? {
            return Ok(false);
        }
        if !self.has_process(vnode)? {
            return Ok(true);
        }
        Ok(self.pid_in(vm, vnode, &ns)?.is_some())
    }

    /// True if the vnode's state dir on `vm`'s machine may still serve it
    /// elsewhere: it has a namespace on this machine (other than on `vm`,
    /// which the caller is removing), unless the book puts it on a VM of
    /// another machine (where it has a state dir of its own; VMs of one
    /// test machine can see each other's namespaces). The step must hold
    /// the VM the book puts the vnode on ([`TestbedDriver::and_where_it_runs`]).
    fn state_dir_in_use(&mut self, vm: &str, vnode: &str) -> Result<bool> {
        if let Some(now) = self.at.get(vnode).map(|s| s.vm.clone()).filter(|v| v != vm) {
            let here = self.fleet.machine(vm)?;
            if here.is_none() || here != self.fleet.machine(&now)? {
                return Ok(false);
            }
        }
        let cg = self.cgroup(vnode)?;
        site::any_netns_with_prefix(self.fleet.exec(vm)?, &format!("{cg}-"))
    }

    /// Remove a directory of the vnode's on `vm`: with [`safe_remove`] if
    /// criu may have used it (the vnode has a process).
    fn remove_dir(&mut self, vm: &str, vnode: &str, dir: &std::path::Path) -> Result<()> {
        let criu_used = self.has_process(vnode)?;
        let ex = self.fleet.exec(vm)?;
        if criu_used {
            safe_remove(ex, dir)
        } else {
            site::remove_unmounted(ex, dir)
        }
    }

    fn set_frozen(&mut self, vm: &str, vnodes: &[String], frozen: bool) -> Result<()> {
        let paths = self.paths();
        for id in vnodes {
            if !self.has_process(id)? {
                continue;
            }
            let cg = self.cgroup(id)?;
            let ex = self.fleet.exec(vm)?;
            if frozen {
                paths.cgroups.freeze(ex, &cg)?;
            } else {
                paths.cgroups.thaw(ex, &cg)?;
            }
        }
        Ok(())
    }
}
