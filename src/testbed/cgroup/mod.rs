//! Per-vnode cgroups: CPU accounting and freezing. Hosts differ (cgroup v1
//! hierarchies `cpuacct` + `freezer`, or the unified v2 hierarchy, with or
//! without systemd), so this is one trait, [`CgroupDriver`], with a driver
//! per kind ([`v1::V1`], [`v2::V2`]), chosen by probing each VM once
//! ([`probe`]). [`Cgroups`] (in [`super::Paths`]) probes on first use and
//! keeps the driver per machine, so callers write
//! `paths.cgroups.freeze(ex, name)` whatever the host.
//!
//! Every vnode's group has the same path on every VM (named by
//! [`super::names::cgroup_name`]), so that CRIU restores a migrated vnode
//! into a group of the same path.

pub mod v1;
pub mod v2;

use super::exec::{Cmd, Executor};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One kind of cgroup hierarchy on a VM. `name` is a vnode's group name.
pub trait CgroupDriver: Debug + Send + Sync {
    /// What this is, for reports: `v1`, `v2`, `v2 (systemd unit …)`.
    fn describe(&self) -> String;
    /// Check the host has what the driver needs, and make the subtree the
    /// vnodes' groups live in (idempotent; before a deploy).
    fn setup(&self, ex: &mut dyn Executor) -> Result<()>;
    /// The directories of a vnode's groups (one per hierarchy).
    fn dirs(&self, name: &str) -> Vec<PathBuf>;
    /// The group `criu dump --freeze-cgroup` takes.
    fn freezer_dir(&self, name: &str) -> PathBuf;
    /// The files whose CPU usage [`CgroupDriver::parse_usage_ns`] reads.
    fn usage_file(&self, name: &str) -> PathBuf;
    /// CPU time in nanoseconds from the lines of [`CgroupDriver::usage_file`].
    fn parse_usage_ns(&self, lines: &[&str]) -> Option<u64>;
    /// Set the vnode's freeze state (no waiting).
    fn request_frozen(&self, ex: &mut dyn Executor, name: &str, frozen: bool) -> Result<()>;
    /// The kernel's view: `Some(true)` frozen, `Some(false)` thawed, `None` in between.
    fn frozen(&self, ex: &mut dyn Executor, name: &str) -> Result<Option<bool>>;
    /// Remove the subtree made by [`CgroupDriver::setup`] if no vnode group is left in it.
    fn cleanup(&self, ex: &mut dyn Executor) -> Result<()>;
    /// CPU time used by every vnode group on the VM together, nanoseconds
    /// (0 without any).
    fn all_vnodes_usage_ns(&self, ex: &mut dyn Executor) -> Result<u64>;

    /// Create the vnode's groups (no error if they exist).
    fn create(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        let dirs = self.dirs(name);
        ex.make_dirs(&dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>())
    }

    /// The `cgroup.procs` files a process writes itself into to join the vnode.
    fn procs_files(&self, name: &str) -> Vec<PathBuf> {
        self.dirs(name).iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Pids (outer, as seen on the VM) in the vnode's group.
    fn pids(&self, ex: &mut dyn Executor, name: &str) -> Result<Vec<u32>> {
        parse_pids(&ex.read_file(&self.freezer_dir(name).join("cgroup.procs"))?)
    }

    /// CPU time used by the vnode's tasks, nanoseconds.
    fn cpu_usage_ns(&self, ex: &mut dyn Executor, name: &str) -> Result<u64> {
        self.usage_in(ex, &self.usage_file(name))
    }

    /// CPU time in nanoseconds from a usage file of this kind.
    fn usage_in(&self, ex: &mut dyn Executor, f: &Path) -> Result<u64> {
        let text = String::from_utf8_lossy(&ex.read_file(f)?).to_string();
        let lines: Vec<&str> = text.lines().collect();
        self.parse_usage_ns(&lines)
            .ok_or_else(|| Error::Host(format!("{}: {}: no CPU usage in {text:?}", ex.label(), f.display())))
    }
}

/// The kinds a [`Cgroups`] can be forced to (tests; a host whose probe misleads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    V1,
    /// The unified hierarchy, the subtree directly under the root (no systemd).
    V2,
    /// The unified hierarchy, the subtree a delegated systemd unit.
    V2Systemd,
}

/// Per-vnode cgroups on every VM: the cgroup root, and the driver of each
/// machine, probed once ([`probe`]) or forced.
#[derive(Debug, Clone)]
pub struct Cgroups {
    /// Where cgroups are mounted (`/sys/fs/cgroup`).
    pub root: PathBuf,
    /// Use this kind without probing.
    pub force: Option<Kind>,
    drivers: Arc<Mutex<HashMap<String, Arc<dyn CgroupDriver>>>>,
}

impl Default for Cgroups {
    fn default() -> Self {
        Cgroups::at("/sys/fs/cgroup", None)
    }
}

impl Cgroups {
    pub fn at(root: impl Into<PathBuf>, force: Option<Kind>) -> Cgroups {
        Cgroups {
            root: root.into(),
            force,
            drivers: Default::default(),
        }
    }

    /// The driver for this executor's machine, probing it the first time.
    pub fn driver(&self, ex: &mut dyn Executor) -> Result<Arc<dyn CgroupDriver>> {
        let key = ex.machine().unwrap_or_else(|| ex.label());
        if let Some(d) = self.drivers.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(d.clone());
        }
        let kind = match self.force {
            Some(k) => k,
            None => probe(ex, &self.root)?,
        };
        let d: Arc<dyn CgroupDriver> = match kind {
            Kind::V1 => Arc::new(v1::V1::new(&self.root)),
            Kind::V2 => Arc::new(v2::V2::plain(&self.root)),
            Kind::V2Systemd => Arc::new(v2::V2::systemd(&self.root)),
        };
        self.drivers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, d.clone());
        Ok(d)
    }

    pub fn setup(&self, ex: &mut dyn Executor) -> Result<()> {
        if ex.is_dry_run() {
            return Ok(());
        }
        self.driver(ex)?.setup(ex)
    }
    pub fn create(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        self.driver(ex)?.create(ex, name)
    }
    pub fn dirs(&self, ex: &mut dyn Executor, name: &str) -> Result<Vec<PathBuf>> {
        Ok(self.driver(ex)?.dirs(name))
    }
    pub fn procs_files(&self, ex: &mut dyn Executor, name: &str) -> Result<Vec<PathBuf>> {
        Ok(self.driver(ex)?.procs_files(name))
    }
    pub fn freezer_dir(&self, ex: &mut dyn Executor, name: &str) -> Result<PathBuf> {
        Ok(self.driver(ex)?.freezer_dir(name))
    }
    pub fn pids(&self, ex: &mut dyn Executor, name: &str) -> Result<Vec<u32>> {
        self.driver(ex)?.pids(ex, name)
    }
    pub fn all_vnodes_usage_ns(&self, ex: &mut dyn Executor) -> Result<u64> {
        self.driver(ex)?.all_vnodes_usage_ns(ex)
    }
    pub fn cpu_usage_ns(&self, ex: &mut dyn Executor, name: &str) -> Result<u64> {
        self.driver(ex)?.cpu_usage_ns(ex, name)
    }
    pub fn cleanup(&self, ex: &mut dyn Executor) -> Result<()> {
        if ex.is_dry_run() {
            return Ok(());
        }
        self.driver(ex)?.cleanup(ex)
    }

    /// Freeze every task of the vnode and wait until the kernel says so.
    pub fn freeze(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        set_frozen(self.driver(ex)?.as_ref(), ex, name, true)
    }

    /// Thaw the vnode's tasks and wait until they run.
    pub fn thaw(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        set_frozen(self.driver(ex)?.as_ref(), ex, name, false)
    }

    /// True if the vnode's group is frozen (false also while in between).
    pub fn is_frozen(&self, ex: &mut dyn Executor, name: &str) -> Result<bool> {
        Ok(self.driver(ex)?.frozen(ex, name)? == Some(true))
    }

    /// Kill every task of the vnode (frozen first, so none forks away), then
    /// remove its groups. Missing groups are not an error.
    pub fn kill_and_remove(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        let d = self.driver(ex)?;
        if ex.exists(&d.freezer_dir(name))? {
            set_frozen(d.as_ref(), ex, name, true)?;
            let pids = d.pids(ex, name)?;
            if !pids.is_empty() {
                let _ = ex.output(&Cmd::new("kill").arg("-KILL").args(pids.iter().map(|p| p.to_string())))?;
            }
            set_frozen(d.as_ref(), ex, name, false)?;
        }
        for dir in d.dirs(name) {
            remove_dir(ex, &dir)?;
        }
        Ok(())
    }

    /// Remove the groups if they are empty (after a vnode left the machine).
    pub fn remove_if_empty(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        for dir in self.driver(ex)?.dirs(name) {
            let _ = ex.output(&Cmd::new("rmdir").args(["--".into(), dir.display().to_string()]))?;
        }
        Ok(())
    }
}

/// Find the hierarchy of a VM with one command: the file system type of
/// `root` (`cgroup2fs`: v2 only; `tmpfs`: v1 hierarchies below it) and
/// whether systemd runs (`/run/systemd/system`). A dry run gets v1.
pub fn probe(ex: &mut dyn Executor, root: &Path) -> Result<Kind> {
    if ex.is_dry_run() {
        return Ok(Kind::V1);
    }
    let script = r#"stat -f -c %T "$1"; if test -d /run/systemd/system; then echo systemd; fi"#;
    let out = ex.run(&Cmd::new("sh").args(["-c", script, "netbalance-probe", &root.display().to_string()]))?;
    let mut words = out.split_whitespace();
    let fs = words.next().unwrap_or("");
    let systemd = words.any(|w| w == "systemd");
    match fs {
        "cgroup2fs" if systemd => Ok(Kind::V2Systemd),
        "cgroup2fs" => Ok(Kind::V2),
        _ => Ok(Kind::V1),
    }
}

/// Ask for a freeze state and wait (5 s at most) until the kernel reports it.
fn set_frozen(d: &dyn CgroupDriver, ex: &mut dyn Executor, name: &str, frozen: bool) -> Result<()> {
    d.request_frozen(ex, name, frozen)?;
    if ex.is_dry_run() {
        return Ok(());
    }
    let t0 = Instant::now();
    let mut round = 0u32;
    loop {
        round += 1;
        let now = d.frozen(ex, name)?;
        if now == Some(frozen) {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return Err(Error::Host(format!(
                "{}: cgroup {} stays {}, not {} ({})",
                ex.label(),
                d.freezer_dir(name).display(),
                match now {
                    Some(true) => "frozen",
                    Some(false) => "thawed",
                    None => "freezing",
                },
                if frozen { "frozen" } else { "thawed" },
                d.describe()
            )));
        }
        if frozen {
            // The v1 freezer asks each task once per write: a task between
            // fork and exec, or a new child, can be missed and the group
            // stays FREEZING. Ask again, and now and then thaw briefly
            // first (what runc does). Harmless on v2.
            if round % 50 == 0 {
                d.request_frozen(ex, name, false)?;
                std::thread::sleep(Duration::from_millis(10));
            }
            d.request_frozen(ex, name, true)?;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// rmdir a cgroup, retrying while killed tasks finish exiting (up to 5 s).
pub(crate) fn remove_dir(ex: &mut dyn Executor, d: &Path) -> Result<()> {
    let t0 = Instant::now();
    loop {
        if !ex.exists(d)? {
            return Ok(());
        }
        let out = ex.output(&Cmd::new("rmdir").args(["--".into(), d.display().to_string()]))?;
        if out.success() {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(5) {
            let why = out.stderr_str().trim().to_string();
            return Err(Error::host_op(
                ex.label(),
                format!("cannot remove {}", d.display()),
                why,
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn parse_pids(bytes: &[u8]) -> Result<Vec<u32>> {
    String::from_utf8_lossy(bytes)
        .split_whitespace()
        .map(|s| s.parse().map_err(|_| Error::Host(format!("bad pid {s:?}"))))
        .collect()
}
