//! Pre-copy (model §3.1) with CRIU's memory tracking: while the vnode runs,
//! `criu pre-dump --track-mem` copies its memory into a round directory
//! (the first round all of it, each later one what the vnode dirtied since
//! the round before, found by the kernel's soft-dirty bits), and the
//! migration sends each round to the destination as it is written. The
//! pause then dumps only what was dirtied since the last round
//! (`criu dump --track-mem --prev-images-dir`), and the restore reads every
//! page from the chain of images, whichever round wrote it.
//!
//! The rounds of vnode `<cgroup>` live beside its state directory, in
//! `<state root>/<cgroup>.pre/<round>/`, on the source and (copied) on the
//! destination, so that the state directory the stop-copy transfer sends
//! holds only the last dirty set; its `images/parent` is the relative link
//! `../../<cgroup>.pre/<round>`, the same on both VMs.
//!
//! Needs a kernel with soft-dirty tracking (`criu check --feature
//! mem_dirty_track`: Debian's and Ubuntu's kernels have it; the kernel of
//! the machine this project is developed on does not).

use super::exec::{path_str, Cmd, Executor};
use super::paths::Paths;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// True if `criu check --feature mem_dirty_track` says this VM's kernel
/// tracks dirty memory (a dry run says yes).
pub fn supported(ex: &mut dyn Executor, paths: &Paths) -> Result<bool> {
    if ex.is_dry_run() {
        return Ok(true);
    }
    let out = ex.output(&Cmd::new(paths.criu.clone()).args(["check", "--feature", "mem_dirty_track"]))?;
    Ok(out.success() && format!("{}{}", out.stdout_str(), out.stderr_str()).contains("is supported"))
}

/// Refuse pre-copy on a VM whose kernel does not track dirty memory.
pub fn require(ex: &mut dyn Executor, paths: &Paths) -> Result<()> {
    if supported(ex, paths)? {
        return Ok(());
    }
    Err(Error::Host(format!(
        "{}: criu check --feature mem_dirty_track: this kernel has no soft-dirty memory tracking, so pre-copy \
         cannot run here; pass --migration stop-copy",
        ex.label()
    )))
}

/// The directory of the vnode's pre-copy rounds (beside its state dir).
pub fn dir(paths: &Paths, cgroup: &str) -> PathBuf {
    paths.state_root.join(format!("{cgroup}.pre"))
}

/// The directory of round `round` (from 1).
pub fn round_dir(paths: &Paths, cgroup: &str, round: u32) -> PathBuf {
    dir(paths, cgroup).join(round.to_string())
}

/// `--prev-images-dir` of the final dump, relative to the vnode's
/// `images/` as criu wants it: the last round.
pub fn parent_of_images(cgroup: &str, round: u32) -> String {
    format!("../../{cgroup}.pre/{round}")
}

/// One round: `criu pre-dump --track-mem` of the running tree rooted at
/// `pid` inside `netns` into round `round`'s directory (parent: the round
/// before). criu freezes the tree for the copy into its pipes and thaws it
/// again. Returns the bytes the round wrote.
pub fn pre_dump(ex: &mut dyn Executor, paths: &Paths, cgroup: &str, netns: &str, pid: u32, round: u32) -> Result<u64> {
    let d = round_dir(paths, cgroup, round);
    let ds = path_str(&d)?.to_string();
    if ex.exists(&d)? {
        ex.remove_tree(&d)?;
    }
    // Under the lock `monitor --dirty` counts under: from here on it
    // leaves the vnode's soft-dirty bits alone ([`super::dirty`]).
    let lock = paths.state_root.join(super::dirty::LOCK_FILE);
    ex.run(&Cmd::new("flock").args([path_str(&lock)?, "mkdir", "-p", "--", &ds]))?;
    let freezer = paths.cgroups.freezer_dir(ex, cgroup)?;
    let mut args: Vec<String> = vec![
        format!("--net=/run/netns/{netns}"),
        "--".into(),
        paths.criu.clone(),
        "pre-dump".into(),
        "-t".into(),
        pid.to_string(),
        "-D".into(),
        ds.clone(),
        "--track-mem".into(),
        "--freeze-cgroup".into(),
        path_str(&freezer)?.into(),
        "-o".into(),
        "pre-dump.log".into(),
        "-v2".into(),
    ];
    args.push(super::criu::IGNORE_CGROUPS.into());
    if round > 1 {
        args.extend(["--prev-images-dir".into(), format!("../{}", round - 1)]);
    }
    let out = ex.output(&Cmd::new("nsenter").args(args))?;
    if !out.success() {
        let log = super::criu::log_tail(ex, &d.join("pre-dump.log"));
        return Err(Error::host_op(
            ex.label(),
            format!("criu pre-dump (round {round}) of pid {pid} in {netns} failed"),
            format!("{} {log}", out.stderr_str().trim()),
        ));
    }
    ex.disk_usage(&d)
}

/// Whether another round pays, after rounds of `sizes` bytes (model §3.1):
/// not after `max_rounds`, once the last is at most `stop_mb`, nor when it
/// did not shrink the dirty set.
///
/// ```
/// use netbalance::testbed::precopy::another_round;
/// assert!(another_round(&[100 << 20], 5, 1.0));
/// assert!(!another_round(&[100 << 20, 512 << 10], 5, 1.0)); // small enough
/// assert!(!another_round(&[10 << 20, 12 << 20], 5, 1.0)); // grew
/// assert!(!another_round(&[100 << 20; 5], 5, 1.0)); // the last round
/// ```
pub fn another_round(sizes: &[u64], max_rounds: u32, stop_mb: f64) -> bool {
    let Some(&last) = sizes.last() else {
        return max_rounds > 0;
    };
    if sizes.len() as u32 >= max_rounds || last as f64 <= stop_mb * 1e6 {
        return false;
    }
    sizes.len() < 2 || last < sizes[sizes.len() - 2]
}
