//! Per-vnode cgroups (v1): `cpuacct` for CPU accounting, `freezer` to
//! suspend and resume. One group of each per vnode, named by
//! [`super::names::cgroup_name`], so that a migrated vnode is restored by
//! CRIU into a group of the same path.

use super::exec::{path_str, Cmd, Executor};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The cgroup v1 mount root (`/sys/fs/cgroup`) on a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    pub root: PathBuf,
}

impl Default for Cgroups {
    fn default() -> Self {
        Cgroups {
            root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

impl Cgroups {
    pub fn dir(&self, controller: &str, name: &str) -> PathBuf {
        self.root.join(controller).join(name)
    }

    /// The freezer group's directory (what `criu dump --freeze-cgroup` takes).
    pub fn freezer_dir(&self, name: &str) -> PathBuf {
        self.dir("freezer", name)
    }

    /// Fail with a clear message unless the v1 `cpuacct` and `freezer`
    /// hierarchies are mounted.
    pub fn check(&self, ex: &mut dyn Executor) -> Result<()> {
        if ex.is_dry_run() {
            return Ok(());
        }
        for c in ["cpuacct", "freezer"] {
            let p = self.root.join(c).join("cgroup.procs");
            if !ex.exists(&p)? {
                return Err(Error::Host(format!(
                    "{}: no cgroup v1 {c} hierarchy at {} (netbalance needs cgroup v1 cpuacct and freezer; \
                     cgroup v2 is not supported yet)",
                    ex.label(),
                    self.root.join(c).display()
                )));
            }
        }
        Ok(())
    }

    /// Create both groups of a vnode (no error if they exist).
    pub fn create(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        let a = self.dir("cpuacct", name);
        let f = self.dir("freezer", name);
        ex.run(&Cmd::new("mkdir").args(["-p", "--", path_str(&a)?, path_str(&f)?]))?;
        Ok(())
    }

    /// The `cgroup.procs` files a new process of the vnode writes itself into.
    pub fn procs_files(&self, name: &str) -> [PathBuf; 2] {
        [
            self.dir("cpuacct", name).join("cgroup.procs"),
            self.dir("freezer", name).join("cgroup.procs"),
        ]
    }

    /// The root groups' `cgroup.procs` (to leave the vnode's groups).
    pub fn root_procs_files(&self) -> [PathBuf; 2] {
        [
            self.root.join("cpuacct/cgroup.procs"),
            self.root.join("freezer/cgroup.procs"),
        ]
    }

    /// Freeze every task of the vnode and wait until the kernel says FROZEN.
    pub fn freeze(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        self.set_state(ex, name, "FROZEN")
    }

    /// Thaw the vnode's tasks and wait until THAWED.
    pub fn thaw(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        self.set_state(ex, name, "THAWED")
    }

    fn set_state(&self, ex: &mut dyn Executor, name: &str, want: &str) -> Result<()> {
        let f = self.dir("freezer", name).join("freezer.state");
        ex.write_file(&f, want.as_bytes())?;
        if ex.is_dry_run() {
            return Ok(());
        }
        let t0 = Instant::now();
        let mut round = 0u32;
        loop {
            round += 1;
            let state = String::from_utf8_lossy(&ex.read_file(&f)?).trim().to_string();
            if state == want {
                return Ok(());
            }
            if t0.elapsed() > Duration::from_secs(5) {
                return Err(Error::Host(format!(
                    "{}: {} stays {state}, not {want}",
                    ex.label(),
                    f.display()
                )));
            }
            if want == "FROZEN" {
                // The v1 freezer asks each task once per write: a task
                // between fork and exec, or a new child, can be missed and
                // the group stays FREEZING. Ask again, and now and then thaw
                // briefly first (what runc does; cgroup-v1 freezer docs of
                // old: "retry or thaw").
                if round % 50 == 0 {
                    ex.write_file(&f, b"THAWED")?;
                    std::thread::sleep(Duration::from_millis(10));
                }
                ex.write_file(&f, want.as_bytes())?;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The current freezer state (FROZEN, FREEZING, THAWED).
    pub fn state(&self, ex: &mut dyn Executor, name: &str) -> Result<String> {
        let f = self.dir("freezer", name).join("freezer.state");
        Ok(String::from_utf8_lossy(&ex.read_file(&f)?).trim().to_string())
    }

    /// Pids in the vnode's freezer group.
    pub fn pids(&self, ex: &mut dyn Executor, name: &str) -> Result<Vec<u32>> {
        let f = self.dir("freezer", name).join("cgroup.procs");
        parse_pids(&ex.read_file(&f)?)
    }

    /// CPU time used by the vnode's tasks, nanoseconds (cpuacct.usage).
    pub fn cpu_usage_ns(&self, ex: &mut dyn Executor, name: &str) -> Result<u64> {
        let f = self.dir("cpuacct", name).join("cpuacct.usage");
        let text = String::from_utf8_lossy(&ex.read_file(&f)?).trim().to_string();
        text.parse()
            .map_err(|_| Error::Host(format!("{}: {}: not a number: {text:?}", ex.label(), f.display())))
    }

    /// Kill every task of the vnode (frozen first, so none forks away), then
    /// remove both groups. Missing groups are not an error.
    pub fn kill_and_remove(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        let fdir = self.dir("freezer", name);
        if ex.exists(&fdir)? {
            self.freeze(ex, name)?;
            let pids = self.pids(ex, name)?;
            if !pids.is_empty() {
                let _ = ex.output(&Cmd::new("kill").arg("-KILL").args(pids.iter().map(|p| p.to_string())))?;
            }
            self.thaw(ex, name)?;
        }
        for c in ["cpuacct", "freezer"] {
            remove_dir(ex, &self.dir(c, name))?;
        }
        Ok(())
    }

    /// Remove the groups if they are empty (after a vnode left the machine).
    pub fn remove_if_empty(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        for c in ["cpuacct", "freezer"] {
            let d = self.dir(c, name);
            let _ = ex.output(&Cmd::new("rmdir").args(["--", path_str(&d)?]))?;
        }
        Ok(())
    }
}

/// rmdir a cgroup, retrying while killed tasks finish exiting (up to 5 s).
fn remove_dir(ex: &mut dyn Executor, d: &Path) -> Result<()> {
    let t0 = Instant::now();
    loop {
        if !ex.exists(d)? {
            return Ok(());
        }
        let out = ex.output(&Cmd::new("rmdir").args(["--", path_str(d)?]))?;
        if out.success() {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return Err(Error::Host(format!(
                "{}: cannot remove {}: {}",
                ex.label(),
                d.display(),
                out.stderr_str().trim()
            )));
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
