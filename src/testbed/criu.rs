//! The CRIU steps of a live migration (the paper's Table 1): dump a frozen
//! vnode inside its namespace (`criu dump --tcp-established --network-lock
//! nftables`, retried), wait until the dumped tasks have left the process
//! table (their pids are needed again), bring a dumped vnode up at its new
//! site ([`restore_moved`]: a fresh namespace holding incoming packets, its
//! links to the peers, `criu restore`, the hold released; a rollback brings
//! it up the same way at its source), and stop a restored tree
//! ([`kill_tree`]).
//! The order of the steps, their journal and the rollback are the migration
//! engine's (`crate::migrate`); [`super::times::MigrationTimes`] is what
//! its testbed driver measures of one move.

use super::exec::{path_str, Cmd, Executor};
use super::vnode::{reattach_after_move, release_hold, Fleet, Layout, Paths, Site};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a move tries `criu dump` (see [`dump_frozen`]).
pub const DUMP_ATTEMPTS: u32 = 3;

fn images_dir(paths: &Paths, cgroup: &str) -> std::path::PathBuf {
    paths.vnode_dir(cgroup).join("images")
}

/// The last error lines of a CRIU log, for messages.
pub(super) fn log_tail(ex: &mut dyn Executor, log: &Path) -> String {
    match ex.read_file(log) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let errs: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("Error") && !l.contains("RLIMIT_NOFILE"))
                .collect();
            let pick = if errs.is_empty() {
                text.lines().rev().take(5).collect::<Vec<_>>()
            } else {
                errs.into_iter().rev().take(5).collect()
            };
            pick.into_iter().rev().collect::<Vec<_>>().join(" | ")
        }
        Err(e) => format!("(no log: {e})", e = crate::error::one_line(&e)),
    }
}

/// The program's stderr (its last lines), for an error message.
fn stderr_part(out: &super::exec::Output) -> String {
    let e = out.stderr_str();
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("{} | log: ", lines[lines.len().saturating_sub(3)..].join(" | "))
    }
}

/// The arguments after `criu` of a dump of the frozen tree rooted at `pid`
/// into `dir` (the cgroup freezer at `freezer`), which both forms of dump
/// share: this one ([`dump`]) and post-copy's ([`super::lazy`]), each adding
/// its own after them. TCP connections and the namespace's network lock go
/// into the images; the log is `dump.log` in `dir`.
pub(super) fn dump_args(pid: u32, dir: &str, freezer: &str) -> Vec<String> {
    [
        "dump",
        "-t",
        &pid.to_string(),
        "-D",
        dir,
        "--tcp-established",
        "--network-lock",
        "nftables",
        "--freeze-cgroup",
        freezer,
        IGNORE_CGROUPS,
        "-o",
        "dump.log",
        "-v2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `criu dump` of the tree rooted at `pid`, run inside `netns`. With
/// `parent` (pre-copy, [`super::precopy`]): only the memory dirtied since
/// that earlier round, relative to the images dir, is written.
pub fn dump(
    ex: &mut dyn Executor,
    paths: &Paths,
    cgroup: &str,
    netns: &str,
    pid: u32,
    parent: Option<&str>,
) -> Result<()> {
    let images = images_dir(paths, cgroup);
    let d = path_str(&images)?.to_string();
    // Left over only by a failed move (a finished one removes its images).
    if ex.exists(&images)? {
        ex.remove_tree(&images)?;
    }
    ex.run(&Cmd::new("mkdir").args(["-p", "--", &d]))?;
    let freezer = paths.cgroups.freezer_dir(ex, cgroup)?;
    let incremental = parent.map(|p| ["--track-mem".to_string(), "--prev-images-dir".into(), p.into()]);
    let out = ex.output(
        &Cmd::new("nsenter")
            .args([format!("--net=/run/netns/{netns}"), "--".into(), paths.criu.clone()])
            .args(dump_args(pid, &d, path_str(&freezer)?))
            .args(incremental.into_iter().flatten()),
    )?;
    if !out.success() {
        let tail = log_tail(ex, &images.join("dump.log"));
        let why = format!("{}{tail}", stderr_part(&out));
        return Err(Error::host_op(
            ex.label(),
            format!("criu dump of pid {pid} in {netns} failed"),
            why,
        ));
    }
    Ok(())
}

/// [`dump`] a vnode's tree, which the caller has frozen; returns the pids
/// to wait for before a restore (root first, then every task of its group).
///
/// A task frozen in the middle of a fork can be unseizable for criu
/// ("Unseizable non-zombie ... state D"); criu then leaves the tree as it
/// was. The tree is thawed briefly and dumped again, `attempts` times in
/// all. After the last failure it is left frozen.
pub fn dump_frozen(
    ex: &mut dyn Executor,
    paths: &Paths,
    cgroup: &str,
    netns: &str,
    pid: u32,
    parent: Option<&str>,
    attempts: u32,
) -> Result<Vec<u32>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tree = paths.cgroups.pids(ex, cgroup)?;
        match dump(ex, paths, cgroup, netns, pid, parent) {
            Ok(()) => return Ok(std::iter::once(pid).chain(tree).collect()),
            Err(e) if attempt >= attempts => return Err(e),
            Err(e) => {
                crate::info!(
                    "netbalance: {}: dump of pid {pid} in {netns}, attempt {attempt}: {e}; retrying",
                    ex.label(),
                    e = crate::error::one_line(&e)
                );
                thaw_briefly(ex, paths, cgroup)?;
            }
        }
    }
}

/// Thaw a vnode's frozen tree for 50 ms and freeze it again: a task frozen
/// in the middle of a fork, which criu cannot seize, gets past it (between
/// the attempts of [`dump_frozen`] and of a post-copy dump).
pub fn thaw_briefly(ex: &mut dyn Executor, paths: &Paths, cgroup: &str) -> Result<()> {
    paths.cgroups.thaw(ex, cgroup)?;
    std::thread::sleep(Duration::from_millis(50));
    paths.cgroups.freeze(ex, cgroup)
}

/// `--manage-cgroups ignore`, for every dump and restore: a vnode's tasks
/// are in the vnode's own groups, which netbalance makes on each VM, and a
/// restore puts them there by running criu in them ([`JOIN_THEN_EXEC`]). So
/// criu need not dump the groups' properties nor mount a cgroup yard to
/// restore them: mounting the cgroup2 hierarchy for that took ~18 ms of
/// each dump and ~11 ms of each restore here (criu's logs), all in the
/// pause.
/// (One argument: the option's value is optional, so it must follow `=`.)
pub const IGNORE_CGROUPS: &str = "--manage-cgroups=ignore";

/// `sh -c` script: `$1` files (`cgroup.procs`) follow, the writer joins
/// each (`echo 0`), then the rest of the arguments is executed.
pub const JOIN_THEN_EXEC: &str = r#"n=$1; shift
while [ "$n" -gt 0 ]; do echo 0 >"$1" || exit 1; shift; n=$((n-1)); done
exec "$@""#;

/// `criu restore -d` from the vnode's images, inside `netns`, a namespace
/// made for it (every restore is: a rollback too restores into a fresh
/// namespace at the source); returns the restored root pid.
///
/// Detached on purpose: a non-detached criu stays the tree's parent (which
/// would reap it at once after a later dump) but kept its cgroup yard
/// mounted inside the images directory for as long as the tree lived, where
/// a `rm -rf` of the images would reach into the cgroup hierarchies (with
/// [`IGNORE_CGROUPS`] it mounts no yard; detached it stays). The
/// restored tree is therefore an orphan: of the keeper daemon that ran
/// criu, where the VM has one ([`super::keeper`]; it reaps at once), else of
/// pid 1, and the next dump waits for pid 1 to reap it (the `reap` phase).
///
/// The dump's network lock (an nftables table) lives in the source
/// namespace only; a restore elsewhere has nothing to unlock. CRIU still
/// tries to delete the table there (the dump's lock method is used: a
/// restore's `--network-lock` is ignored, CRIU 4.1.1 warns), which fails
/// harmlessly and costs ~11 ms here.
///
/// The restored tasks go into the vnode's groups because criu is started
/// in them ([`JOIN_THEN_EXEC`]) and its children inherit them: criu leaves
/// cgroups alone ([`IGNORE_CGROUPS`]).
///
/// `lazy`: `criu restore --lazy-pages`, its pages served by a running
/// `criu lazy-pages` daemon (post-copy, [`super::lazy`]).
pub fn restore_fresh(ex: &mut dyn Executor, paths: &Paths, cgroup: &str, netns: &str, lazy: bool) -> Result<u32> {
    let images = images_dir(paths, cgroup);
    let pidfile = paths.vnode_dir(cgroup).join("pid");
    if ex.exists(&pidfile)? {
        ex.remove_tree(&pidfile)?;
    }
    let restore = Cmd::new("nsenter").args([
        format!("--net=/run/netns/{netns}"),
        "--".into(),
        paths.criu.clone(),
        "restore".into(),
        "-D".into(),
        path_str(&images)?.into(),
        "-d".into(),
        "--tcp-established".into(),
        "--pidfile".into(),
        path_str(&pidfile)?.into(),
        "-o".into(),
        "restore.log".into(),
        "-v2".into(),
    ]);
    let restore = restore.arg(IGNORE_CGROUPS);
    let restore = if lazy { restore.arg("--lazy-pages") } else { restore };
    let join = paths.cgroups.procs_files(ex, cgroup)?;
    let restore = Cmd::new("sh")
        .args(["-c", JOIN_THEN_EXEC, "sh", &join.len().to_string()])
        .args(join.iter().map(|p| p.display().to_string()))
        .arg(restore.program)
        .args(restore.args);
    let restore = paths.kept(ex, restore, false)?;
    let out = ex.output(&restore)?;
    if !out.success() {
        let tail = log_tail(ex, &images.join("restore.log"));
        let why = format!("{}{tail}", stderr_part(&out));
        return Err(Error::host_op(
            ex.label(),
            format!("criu restore in {netns} failed"),
            why,
        ));
    }
    super::vnode::wait_pidfile(ex, &pidfile, Duration::from_secs(5))
}

/// Wait until `/proc/PID` is gone (the dumped task was reaped).
pub fn wait_gone(ex: &mut dyn Executor, pid: u32, timeout: Duration) -> Result<()> {
    if ex.is_dry_run() {
        return Ok(());
    }
    let p = format!("/proc/{pid}");
    let t0 = Instant::now();
    while ex.exists(Path::new(&p))? {
        if t0.elapsed() > timeout {
            return Err(Error::Host(format!(
                "{}: pid {pid} still exists {timeout:?} after the dump",
                ex.label()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// What [`restore_moved`] did, and how long its two phases took (s).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Restored {
    /// The restored root pid (none for a vnode without a process).
    pub pid: Option<u32>,
    pub reattach_s: f64,
    pub restore_s: f64,
}

/// How [`restore_moved`] brings a vnode up.
#[derive(Debug, Clone, Copy)]
pub struct RestoreAs {
    /// The vnode has a process (else only its namespace and links).
    pub with_process: bool,
    /// Freeze the restored tree again (the experiment is suspended).
    pub frozen: bool,
    /// Post-copy: `criu restore --lazy-pages`.
    pub lazy: bool,
}

/// Bring a dumped vnode up at its site in `at` after a move from `old`:
/// its cgroups there, a fresh namespace that holds incoming packets, its
/// links to the peers where `at` puts them (the peers' old veth ends
/// retired, see [`reattach_after_move`]), then, if `how.with_process`,
/// [`restore_fresh`] from its images (frozen again if `how.frozen`) and the
/// hold released (`how.lazy`: a post-copy restore, see [`restore_fresh`]).
/// The testbed driver's restore step.
///
/// A failure after the restore succeeded kills the restored tree there
/// again ([`kill_tree`]; the images stay), so that on any error the vnode
/// runs nowhere new and can be restored at its source from the same images.
pub fn restore_moved(
    fleet: &mut Fleet,
    layout: &Layout,
    at: &BTreeMap<String, Site>,
    vnode: &str,
    old: &Site,
    how: RestoreAs,
) -> Result<Restored> {
    let RestoreAs {
        with_process,
        frozen,
        lazy,
    } = how;
    let cg = layout.vnode(vnode)?.cgroup.clone();
    let site = at
        .get(vnode)
        .ok_or_else(|| Error::Host(format!("no site for {vnode}")))?
        .clone();
    let paths = fleet.paths.clone();
    let mut done = Restored::default();
    let t = Instant::now();
    paths.cgroups.create(fleet.exec(&site.vm)?, &cg)?;
    reattach_after_move(fleet, layout, at, vnode, old, with_process)?;
    done.reattach_s = t.elapsed().as_secs_f64();
    if !with_process {
        return Ok(done);
    }
    let ex = fleet.exec(&site.vm)?;
    let t = Instant::now();
    let pid = restore_fresh(ex, &paths, &cg, &site.netns, lazy)?;
    let after = (|| -> Result<()> {
        if frozen {
            paths.cgroups.freeze(ex, &cg)?;
        }
        release_hold(ex, &site.netns, &layout.vnode(vnode)?.ifaces)
    })();
    if let Err(e) = after {
        return Err(match kill_tree(ex, &paths, &cg) {
            Ok(_) => e,
            Err(e2) => Error::host_op(
                site.vm.clone(),
                format!(
                    "{e}; and stopping the restored tree failed",
                    e = crate::error::one_line(&e)
                ),
                e2,
            ),
        });
    }
    done.restore_s = t.elapsed().as_secs_f64();
    done.pid = Some(pid);
    Ok(done)
}

/// Kill every task of a vnode's cgroup on one VM (frozen first, so none
/// forks away) and wait until their pids are free. Returns the pids.
pub fn kill_tree(ex: &mut dyn Executor, paths: &Paths, cgroup: &str) -> Result<Vec<u32>> {
    paths.cgroups.freeze(ex, cgroup)?;
    let pids = paths.cgroups.pids(ex, cgroup)?;
    if !pids.is_empty() {
        ex.run(&Cmd::new("kill").arg("-KILL").args(pids.iter().map(|p| p.to_string())))?;
    }
    paths.cgroups.thaw(ex, cgroup)?;
    for &p in &pids {
        wait_gone(ex, p, Duration::from_secs(10))?;
    }
    Ok(pids)
}
