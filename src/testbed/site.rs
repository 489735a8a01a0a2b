//! What one VM holds of one vnode, looked at and cleared piece by piece: its
//! network namespace, its live pid there, its CRIU images, a `criu` still
//! working on them, its state directory. The migrate engine's driver
//! (`migrate::testbed_driver`) takes its steps from here and never builds a
//! host command itself.

use super::exec::{path_str, Cmd, Executor};
use super::vnode::{running_pid, Paths};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The file standing for the image of a vnode without a process.
pub const NO_PROCESS: &str = "no-process";

/// `/run/netns/NAME`.
pub fn netns_path(ns: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{ns}"))
}

pub fn netns_exists(ex: &mut dyn Executor, ns: &str) -> Result<bool> {
    ex.exists(&netns_path(ns))
}

/// Delete a namespace if it exists (its links go with it).
pub fn delete_netns(ex: &mut dyn Executor, ns: &str) -> Result<()> {
    if netns_exists(ex, ns)? {
        ex.run(&Cmd::new("ip").args(["netns", "del", ns]))?;
    }
    Ok(())
}

/// True if any namespace on the VM starts with `prefix` (a vnode's
/// namespaces all start with its cgroup name and `-`).
/// Reads `/run/netns` (`ip netns list` also asks the kernel for each
/// namespace's id: 47 ms with 1,600 namespaces here).
pub fn any_netns_with_prefix(ex: &mut dyn Executor, prefix: &str) -> Result<bool> {
    Ok(ex
        .list_dir(Path::new("/run/netns"))?
        .iter()
        .any(|l| l.starts_with(prefix)))
}

/// The vnode's live pid (on the VM) if it runs inside namespace `ns`.
pub fn pid_in(ex: &mut dyn Executor, paths: &Paths, cgroup: &str, ns: &str) -> Result<Option<u32>> {
    let Some(pid) = running_pid(ex, paths, cgroup)? else {
        return Ok(None);
    };
    let inside = ex.same_file(
        Path::new(&format!("/proc/{pid}/ns/net")),
        &Path::new("/run/netns").join(ns),
    )?;
    Ok(inside.then_some(pid))
}

/// Record that a vnode without a process was "checkpointed" (its image is this marker).
pub fn mark_no_process(ex: &mut dyn Executor, images: &Path) -> Result<()> {
    ex.make_dirs(&[images])?;
    ex.write_file(&images.join(NO_PROCESS), b"")
}

/// True if `images` holds a complete image: CRIU's inventory or the marker.
pub fn has_image(ex: &mut dyn Executor, images: &Path) -> Result<bool> {
    Ok(ex.exists(&images.join(NO_PROCESS))? || ex.exists(&images.join("inventory.img"))?)
}

/// Empty a directory that criu may have used, safely: a criu killed during a
/// restore leaves its cgroup yard (every cgroup hierarchy, mounted) inside
/// the images dir, where `rm -rf` would reach into the live hierarchies.
/// Mounts under `dir` are detached first, and `rm` stays on `dir`'s file system.
pub fn safe_remove(ex: &mut dyn Executor, dir: &Path) -> Result<()> {
    let d = path_str(dir)?;
    if !ex.exists(dir)? {
        return Ok(());
    }
    let prefix = format!("{}/", d.trim_end_matches('/'));
    let info = ex.read_file(Path::new("/proc/self/mountinfo")).unwrap_or_default();
    let mut mounts: Vec<String> = String::from_utf8_lossy(&info)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = ex.output(&Cmd::new("umount").args(["-l", "--", &m]))?;
    }
    remove_unmounted(ex, dir)
}

/// Remove a directory no criu has used (so no mount can be under it):
/// [`safe_remove`] without reading the mount table, which costs ms with
/// thousands of namespaces mounted.
pub fn remove_unmounted(ex: &mut dyn Executor, dir: &Path) -> Result<()> {
    ex.remove_tree(dir)
}

/// Wait until no `criu` on this VM works on `images` (30 s at most).
///
/// A `criu dump` or `criu restore` started by a run that was then killed
/// (SIGKILL, a crash) is not killed with it: it goes on, and ends a while
/// later by killing the dumped tree or by leaving a restored one running.
/// Looking at the vnode (probe) or restoring it while that criu still works
/// races with it: a probe sees the vnode frozen on its source, the recovery
/// thaws it, then the dump ends and kills it (the vnode runs nowhere); or
/// two restores fight over the same pids. Once that criu is done, what the
/// VM holds is one of the states the recovery knows (tree running, or a
/// complete image). A post-copy page server that nobody will ever connect
/// to does not end: [`super::lazy::stop_orphan_server`] stops it first.
pub fn wait_criu_done(ex: &mut dyn Executor, images: &Path) -> Result<()> {
    let t0 = Instant::now();
    loop {
        let busy: Vec<u32> = criu_on(ex, images)?.into_iter().map(|(pid, _)| pid).collect();
        if busy.is_empty() {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(30) {
            return Err(Error::Host(format!(
                "{}: criu (pid {busy:?}) still works on {} after 30 s",
                ex.label(),
                images.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `criu` processes of the VM whose command line names `images`, with
/// their arguments.
pub fn criu_on(ex: &mut dyn Executor, images: &Path) -> Result<Vec<(u32, Vec<String>)>> {
    let needle = path_str(images)?;
    let out = ex.output(&Cmd::new("pgrep").args(["-x", "criu"]))?;
    let mut found = Vec::new();
    for pid in out
        .stdout_str()
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
    {
        let cmd = ex
            .read_file(Path::new(&format!("/proc/{pid}/cmdline")))
            .unwrap_or_default();
        let args: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == needle) {
            found.push((pid, args));
        }
    }
    Ok(found)
}

/// True if `pid` is a zombie (state `Z` in `/proc/PID/stat`).
pub fn is_zombie(ex: &mut dyn Executor, pid: u32) -> bool {
    let stat = ex
        .read_file(Path::new(&format!("/proc/{pid}/stat")))
        .unwrap_or_default();
    let stat = String::from_utf8_lossy(&stat);
    stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()) == Some("Z")
}

/// Wait until `pids` have left this machine's process table (`timeout` in
/// all), without an executor: for local VMs, so that the caller need not
/// hold a VM's lock while pid 1 reaps.
pub fn wait_gone_here(pids: &[u32], timeout: Duration) -> Result<()> {
    let t0 = Instant::now();
    for &p in pids {
        while Path::new(&format!("/proc/{p}")).exists() {
            if t0.elapsed() > timeout {
                return Err(Error::Host(format!(
                    "local: pid {p} still exists {timeout:?} after it was stopped"
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(())
}
