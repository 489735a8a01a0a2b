//! cgroup v2 (the unified hierarchy): a group per vnode below one
//! netbalance subtree; CPU from `cpu.stat` `usage_usec`, suspend and resume
//! with `cgroup.freeze` (done when `cgroup.events` says `frozen 1` / `frozen 0`).
//! Neither needs a controller enabled in `cgroup.subtree_control` (both are
//! core files), so the subtree may hold processes itself.
//!
//! Where the subtree is:
//! - no systemd: `<root>/netbalance`, made with `mkdir`;
//! - systemd: the cgroup of a transient service systemd delegates to us,
//!   `<root>/system.slice/netbalance-vnodes.service`, started by
//!   `systemd-run --unit netbalance-vnodes --property Delegate=yes sleep infinity`
//!   (systemd then leaves everything below it alone; `Delegate=yes` is how
//!   systemd.resource-control(5) lets a program manage its own groups). It
//!   is stopped by the teardown once no vnode group is left in it.

use super::CgroupDriver;
use crate::error::{Error, Result};
use crate::testbed::exec::{Cmd, Executor};
use std::path::{Path, PathBuf};

/// The transient unit whose cgroup holds the vnodes on a systemd host.
pub const UNIT: &str = "netbalance-vnodes.service";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2 {
    pub root: PathBuf,
    /// The subtree, relative to `root`.
    pub base: PathBuf,
    /// The delegated unit the subtree belongs to (systemd hosts).
    pub unit: Option<String>,
}

impl V2 {
    /// A host without systemd: the subtree right under the root.
    pub fn plain(root: &Path) -> V2 {
        V2 {
            root: root.into(),
            base: "netbalance".into(),
            unit: None,
        }
    }

    /// A systemd host: the subtree is the cgroup of [`UNIT`].
    pub fn systemd(root: &Path) -> V2 {
        V2 {
            root: root.into(),
            base: PathBuf::from("system.slice").join(UNIT),
            unit: Some(UNIT.into()),
        }
    }

    pub fn base_dir(&self) -> PathBuf {
        self.root.join(&self.base)
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.base_dir().join(name)
    }
}

impl CgroupDriver for V2 {
    fn describe(&self) -> String {
        match &self.unit {
            Some(u) => format!("cgroup v2, delegated systemd unit {u}"),
            None => format!("cgroup v2, subtree {}", self.base_dir().display()),
        }
    }

    fn setup(&self, ex: &mut dyn Executor) -> Result<()> {
        let base = self.base_dir();
        match &self.unit {
            None => {
                ex.run(&Cmd::new("mkdir").args(["-p".into(), "--".into(), base.display().to_string()]))?;
            }
            Some(unit) => {
                if !ex.exists(&base.join("cgroup.procs"))? {
                    let name = unit.trim_end_matches(".service");
                    let out = ex.output(&Cmd::new("systemd-run").args([
                        "--quiet",
                        "--unit",
                        name,
                        "--property",
                        "Delegate=yes",
                        "--collect",
                        "sleep",
                        "infinity",
                    ]))?;
                    if !out.success() && !ex.exists(&base.join("cgroup.procs"))? {
                        return Err(Error::host_command(
                            ex.label(),
                            format!("systemd-run of the delegated unit {unit}"),
                            out.status,
                            &out.stderr_str(),
                        ));
                    }
                    // systemd makes the cgroup as it starts the unit.
                    let t0 = std::time::Instant::now();
                    while !ex.exists(&base.join("cgroup.procs"))? {
                        if t0.elapsed() > std::time::Duration::from_secs(5) {
                            return Err(Error::Host(format!(
                                "{}: unit {unit} started but {} did not appear",
                                ex.label(),
                                base.display()
                            )));
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        }
        if !ex.exists(&base.join("cgroup.freeze"))? {
            return Err(Error::Host(format!(
                "{}: {} has no cgroup.freeze (the v2 freezer needs Linux 5.2 or later)",
                ex.label(),
                base.display()
            )));
        }
        Ok(())
    }

    fn dirs(&self, name: &str) -> Vec<PathBuf> {
        vec![self.dir(name)]
    }

    /// The subtree first (a teardown or the last vnode leaving may have
    /// removed it; on systemd, a plain `mkdir` there would not be delegated).
    fn create(&self, ex: &mut dyn Executor, name: &str) -> Result<()> {
        self.setup(ex)?;
        ex.run(&Cmd::new("mkdir").args(["-p".into(), "--".into(), self.dir(name).display().to_string()]))?;
        Ok(())
    }

    fn freezer_dir(&self, name: &str) -> PathBuf {
        self.dir(name)
    }

    fn usage_file(&self, name: &str) -> PathBuf {
        self.dir(name).join("cpu.stat")
    }

    fn parse_usage_ns(&self, lines: &[&str]) -> Option<u64> {
        lines.iter().find_map(|l| {
            let v = l.trim().strip_prefix("usage_usec ")?;
            v.trim().parse::<u64>().ok()?.checked_mul(1000)
        })
    }

    fn request_frozen(&self, ex: &mut dyn Executor, name: &str, frozen: bool) -> Result<()> {
        ex.write_file(&self.dir(name).join("cgroup.freeze"), if frozen { b"1" } else { b"0" })
    }

    fn frozen(&self, ex: &mut dyn Executor, name: &str) -> Result<Option<bool>> {
        let events = String::from_utf8_lossy(&ex.read_file(&self.dir(name).join("cgroup.events"))?).to_string();
        Ok(parse_frozen(&events))
    }

    /// The subtree's own `cpu.stat` counts every group below it.
    fn all_vnodes_usage_ns(&self, ex: &mut dyn Executor) -> Result<u64> {
        let f = self.base_dir().join("cpu.stat");
        if !ex.exists(&f)? {
            return Ok(0);
        }
        self.usage_in(ex, &f)
    }

    fn cleanup(&self, ex: &mut dyn Executor) -> Result<()> {
        let base = self.base_dir();
        if !ex.exists(&base)? {
            return Ok(());
        }
        // Any vnode group left (another deployment's)? Then the subtree stays.
        let out = ex.output(&Cmd::new("find").args([
            base.display().to_string(),
            "-mindepth".into(),
            "1".into(),
            "-maxdepth".into(),
            "1".into(),
            "-type".into(),
            "d".into(),
        ]))?;
        if !out.stdout_str().trim().is_empty() {
            return Ok(());
        }
        match &self.unit {
            None => super::remove_dir(ex, &base),
            Some(unit) => {
                ex.run(&Cmd::new("systemctl").args(["stop", unit.as_str()]))?;
                Ok(())
            }
        }
    }
}

/// `frozen` of a `cgroup.events` file: `Some(true)` for `frozen 1`.
pub fn parse_frozen(events: &str) -> Option<bool> {
    events.lines().find_map(|l| match l.trim() {
        "frozen 1" => Some(true),
        "frozen 0" => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtrees() {
        let p = V2::plain(Path::new("/sys/fs/cgroup"));
        assert_eq!(p.dirs("nb1"), [PathBuf::from("/sys/fs/cgroup/netbalance/nb1")]);
        let s = V2::systemd(Path::new("/sys/fs/cgroup"));
        assert_eq!(
            s.freezer_dir("nb1"),
            PathBuf::from("/sys/fs/cgroup/system.slice/netbalance-vnodes.service/nb1")
        );
    }

    #[test]
    fn cpu_stat_and_events() {
        let d = V2::plain(Path::new("/x"));
        let stat = ["usage_usec 1500", "user_usec 1000", "system_usec 500"];
        assert_eq!(d.parse_usage_ns(&stat), Some(1_500_000));
        assert_eq!(d.parse_usage_ns(&["user_usec 3"]), None);
        assert_eq!(parse_frozen("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(parse_frozen("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(parse_frozen("populated 0\n"), None);
    }
}
