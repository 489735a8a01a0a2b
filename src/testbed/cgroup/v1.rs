//! cgroup v1: per-vnode groups in the `cpuacct` hierarchy (CPU accounting,
//! `cpuacct.usage` in ns) and the `freezer` hierarchy (`freezer.state`
//! FROZEN / THAWED), both mounted below one root (`/sys/fs/cgroup/<controller>`).

use super::CgroupDriver;
use crate::error::{Error, Result};
use crate::testbed::exec::{Cmd, Executor};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1 {
    pub root: PathBuf,
}

impl V1 {
    pub fn new(root: &Path) -> V1 {
        V1 { root: root.into() }
    }
    fn dir(&self, controller: &str, name: &str) -> PathBuf {
        self.root.join(controller).join(name)
    }
}

impl CgroupDriver for V1 {
    fn describe(&self) -> String {
        "cgroup v1 (cpuacct, freezer)".into()
    }

    fn setup(&self, ex: &mut dyn Executor) -> Result<()> {
        for c in ["cpuacct", "freezer"] {
            let p = self.root.join(c).join("cgroup.procs");
            if !ex.exists(&p)? {
                return Err(Error::Host(format!(
                    "{}: no cgroup v1 {c} hierarchy at {} and no cgroup v2 at {} \
                     (netbalance needs cgroup v1 cpuacct and freezer, or cgroup v2)",
                    ex.label(),
                    self.root.join(c).display(),
                    self.root.display()
                )));
            }
        }
        Ok(())
    }

    fn dirs(&self, name: &str) -> Vec<PathBuf> {
        vec![self.dir("cpuacct", name), self.dir("freezer", name)]
    }

    fn freezer_dir(&self, name: &str) -> PathBuf {
        self.dir("freezer", name)
    }

    fn usage_file(&self, name: &str) -> PathBuf {
        self.dir("cpuacct", name).join("cpuacct.usage")
    }

    fn parse_usage_ns(&self, lines: &[&str]) -> Option<u64> {
        lines.first()?.trim().parse().ok()
    }

    fn request_frozen(&self, ex: &mut dyn Executor, name: &str, frozen: bool) -> Result<()> {
        let want: &[u8] = if frozen { b"FROZEN" } else { b"THAWED" };
        ex.write_file(&self.dir("freezer", name).join("freezer.state"), want)
    }

    fn frozen(&self, ex: &mut dyn Executor, name: &str) -> Result<Option<bool>> {
        let f = self.dir("freezer", name).join("freezer.state");
        Ok(match String::from_utf8_lossy(&ex.read_file(&f)?).trim() {
            "FROZEN" => Some(true),
            "THAWED" => Some(false),
            _ => None,
        })
    }

    fn cleanup(&self, _ex: &mut dyn Executor) -> Result<()> {
        Ok(())
    }

    /// The vnode groups sit directly under the hierarchy's root, named
    /// `nb…` ([`crate::testbed::names::cgroup_name`]): the sum of theirs.
    fn all_vnodes_usage_ns(&self, ex: &mut dyn Executor) -> Result<u64> {
        let root = self.root.join("cpuacct");
        let out = ex.output(&Cmd::new("sh").args([
            "-c".into(),
            "for f in \"$1\"/nb*/cpuacct.usage; do [ -e \"$f\" ] && cat -- \"$f\"; done; exit 0".into(),
            "sh".into(),
            root.display().to_string(),
        ]))?;
        Ok(out
            .stdout_str()
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_usage() {
        let d = V1::new(Path::new("/sys/fs/cgroup"));
        assert_eq!(
            d.dirs("nb1"),
            [
                PathBuf::from("/sys/fs/cgroup/cpuacct/nb1"),
                PathBuf::from("/sys/fs/cgroup/freezer/nb1")
            ]
        );
        assert_eq!(d.freezer_dir("nb1"), PathBuf::from("/sys/fs/cgroup/freezer/nb1"));
        assert_eq!(d.parse_usage_ns(&["123456\n"]), Some(123456));
        assert_eq!(d.parse_usage_ns(&["x"]), None);
    }
}
