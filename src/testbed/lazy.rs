//! Post-copy (CRIU lazy pages, model §3.1) on local VMs: the source's
//! `criu dump --lazy-pages` dumps everything but the memory pages and stays
//! running as their page server; at the destination a `criu lazy-pages
//! --page-server` daemon connects to it and `criu restore --lazy-pages`
//! resumes the tree at once, its pages arriving on demand (userfaultfd)
//! and in the background until all have. [`Lazy::finish`] waits for both
//! long-running criu processes to exit: only then does every page exist at
//! the destination, and only then may the source's image dir go.
//!
//! The page server listens on 127.0.0.1 of the *source* namespace (the dump
//! runs inside it, as [`super::criu::dump`] does). Between local VMs the
//! daemon runs there too, and both criu processes are children of this
//! program; `criu restore` talks to the daemon over a unix socket in the
//! image dir, which every namespace of this machine sees. Between VMs over
//! SSH ([`remote`]) both run detached under `netbalance pages` on their VM
//! ([`super::pages`]): the source's relays the daemon's connection from the
//! VM's own address into the namespace, and the daemon runs in the
//! destination's root namespace; the image dir (without the pages) is
//! copied between them as for a stop-copy move.

use super::criu::DUMP_ATTEMPTS;
use super::exec::{path_str, Cmd, Executor};
use super::site::netns_path;
use super::vnode::Paths;
use crate::error::{Error, Result};
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub mod remote;

/// True if `criu check --feature uffd-noncoop` says the VM supports lazy
/// pages (post-copy).
pub fn supported(ex: &mut dyn Executor, paths: &Paths) -> Result<bool> {
    if ex.is_dry_run() {
        return Ok(true);
    }
    let out = ex.output(&Cmd::new(paths.criu.clone()).args(["check", "--feature", "uffd-noncoop"]))?;
    Ok(out.success() && format!("{}{}", out.stdout_str(), out.stderr_str()).contains("is supported"))
}

/// Refuse post-copy on a VM that cannot do it: a VM over SSH without the
/// netbalance binary (its criu processes run under `netbalance pages`), a
/// pipe too small for criu's page server, or a kernel without
/// non-cooperative userfaultfd.
pub fn require(ex: &mut dyn Executor, paths: &Paths) -> Result<()> {
    if remote::is_remote(ex) && paths.keeper_on(ex)?.is_none() {
        return Err(Error::Host(format!(
            "{}: post-copy over SSH runs criu under `netbalance pages` on the VM, and no netbalance binary is \
             configured for the VMs; pass --migration stop-copy",
            ex.label()
        )));
    }
    if let Some(why) = pipe_too_small(ex)? {
        return Err(Error::Host(format!(
            "{}: post-copy cannot run here: {why}; pass --migration stop-copy",
            ex.label()
        )));
    }
    if !supported(ex, paths)? {
        return Err(Error::Host(format!(
            "{}: criu check --feature uffd-noncoop: lazy pages are not supported here, so post-copy cannot run; \
             pass --migration stop-copy",
            ex.label()
        )));
    }
    Ok(())
}

/// The pipe CRIU's page server tees the pages through: 4 MiB
/// (`PIPE_MAX_SIZE` pages of criu/include/page-pipe.h, rounded up).
pub const CRIU_TEE_PIPE_BYTES: u64 = 4 << 20;

/// Why CRIU's page server could not make its pipe on this machine, if it
/// could not: a pipe above `fs.pipe-max-size` needs CAP_SYS_RESOURCE, and
/// without the pipe the page server fails after the restore began (`tee:
/// 65536: Operation not permitted`), leaving the restored tree waiting for
/// pages. Reads the capabilities of a process the executor starts.
pub fn pipe_too_small(ex: &mut dyn Executor) -> Result<Option<String>> {
    if ex.is_dry_run() {
        return Ok(None);
    }
    let max = String::from_utf8_lossy(&ex.read_file(Path::new("/proc/sys/fs/pipe-max-size"))?)
        .trim()
        .parse::<u64>()
        .unwrap_or(0);
    if max >= CRIU_TEE_PIPE_BYTES {
        return Ok(None);
    }
    // The capabilities of a process the executor starts (criu runs as it).
    let status = String::from_utf8_lossy(&ex.read_file(Path::new("/proc/self/status"))?).into_owned();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_SYS_RESOURCE: u32 = 24;
    if caps & (1 << CAP_SYS_RESOURCE) != 0 {
        return Ok(None);
    }
    Ok(Some(format!(
        "criu's page server needs a {} MiB pipe, fs.pipe-max-size is {max} bytes and this process lacks \
         CAP_SYS_RESOURCE (raise it: sysctl -w fs.pipe-max-size={CRIU_TEE_PIPE_BYTES})",
        CRIU_TEE_PIPE_BYTES >> 20
    )))
}

/// A port for one page server (127.0.0.1 of a vnode's namespace, where only
/// netbalance listens): different for every move of this process.
fn next_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    27_000 + ((std::process::id() as u16).wrapping_mul(97).wrapping_add(n)) % 20_000
}

/// The running criu processes of one post-copy move.
#[derive(Debug)]
pub struct Lazy {
    pub images: PathBuf,
    /// The namespace the page server listens in (the source's).
    pub netns: String,
    /// Where the daemon connects: 127.0.0.1 of the source's namespace
    /// between local VMs, else the relay on the source VM's address.
    pub addr: Ipv4Addr,
    pub port: u16,
    dump: Proc,
    daemon: Option<Proc>,
}

/// One long-running criu process of a post-copy move.
#[derive(Debug)]
enum Proc {
    /// A child of this program (local VMs).
    Here(Child),
    /// Under `netbalance pages` on a VM over SSH ([`remote`]).
    There(remote::Detached),
}

/// Runs `f` with the executor of a VM: how [`Lazy::finish`] reaches the
/// VMs its processes run on over SSH (a step of the driver holding that VM).
pub type OnVm<'a> = &'a mut dyn FnMut(&str, &mut dyn FnMut(&mut dyn Executor) -> Result<()>) -> Result<()>;

/// The destination daemon's log, in the images dir.
pub const DAEMON_LOG: &str = "lazy-pages.log";

/// How the pages of one post-copy move arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Paged {
    /// Seconds the move's cleanup waited for the last page.
    pub s: f64,
    /// Pages the daemon had to bring (its `UFFD transferred pages` totals).
    pub pages: u64,
    /// Page faults of the restored tree that waited for a page (its `#PF
    /// at` lines): the pages pulled on demand, the rest came in the
    /// background.
    pub faults: u64,
}

impl Paged {
    /// The page counts in a `criu lazy-pages -v4` log: a `#PF at ADDR`
    /// line per fault, and per task a summary `UFFD transferred pages:
    /// (COPIED/TOTAL)`. O(log length).
    ///
    /// ```
    /// use netbalance::testbed::lazy::Paged;
    /// let log = "(00.1) 1-5: #PF at 0x7f00\n(00.2) 1-5: UFFD transferred pages: (30/30)\n\
    ///            (00.2) 2-6: UFFD transferred pages: (10/12)\n";
    /// let p = Paged::from_log(log, 0.5);
    /// assert_eq!((p.faults, p.pages), (1, 42));
    /// ```
    pub fn from_log(log: &str, s: f64) -> Paged {
        let mut p = Paged { s, ..Paged::default() };
        for line in log.lines() {
            if line.contains("#PF at ") {
                p.faults += 1;
            } else if let Some(rest) = line.split("UFFD transferred pages: (").nth(1) {
                let total = rest.split(['/', ')']).nth(1).and_then(|t| t.trim().parse::<u64>().ok());
                p.pages += total.unwrap_or(0);
            }
        }
        p
    }
}

/// The file a post-copy dump leaves in its images dir: the dir lacks the
/// memory pages (the page server holds them, and the frozen source tasks
/// still have them), so it is no image to restore from without them.
pub const SOURCE_MARK: &str = "post-copy-source";

/// True if `images` were written by a post-copy dump (no pages in them).
/// A dry run (whose executor says every path exists) has none.
pub fn is_lazy_image(ex: &mut dyn Executor, images: &Path) -> Result<bool> {
    if ex.is_dry_run() {
        return Ok(false);
    }
    ex.exists(&images.join(SOURCE_MARK))
}

/// Stop the page server of a post-copy move cut short (its program was
/// killed) that nobody will ever connect to: a `criu dump --lazy-pages` on
/// `images` with no `criu lazy-pages` daemon or `criu restore` beside it
/// (nor, over SSH, one connected from another VM through its relay).
/// With those, pages are on their way: left alone (they end by
/// themselves). The dumped tasks stay frozen on the source, their memory
/// intact. Returns true if a server was stopped.
pub fn stop_orphan_server(ex: &mut dyn Executor, images: &Path) -> Result<bool> {
    let criu = super::site::criu_on(ex, images)?;
    fn role(args: &[String]) -> &str {
        args.get(1).map_or("", String::as_str)
    }
    let servers: Vec<u32> = criu
        .iter()
        .filter(|(_, a)| role(a) == "dump" && a.iter().any(|x| x == "--lazy-pages"))
        .map(|(pid, _)| *pid)
        .collect();
    if servers.is_empty() || criu.iter().any(|(_, a)| matches!(role(a), "lazy-pages" | "restore")) {
        return Ok(false);
    }
    // Over SSH the daemon runs on the other VM: its connection says so.
    if remote::relay_connected(ex, images)? {
        return Ok(false);
    }
    for &pid in &servers {
        ex.run(&Cmd::new("kill").args(["-KILL", &pid.to_string()]))?;
    }
    for &pid in &servers {
        super::criu::wait_gone(ex, pid, Duration::from_secs(10))?;
    }
    Ok(true)
}

/// Delete the network lock (`inet CRIU-*` nftables tables) a dump killed
/// before its end left in namespace `netns`.
pub fn unlock_network(ex: &mut dyn Executor, netns: &str) -> Result<()> {
    let enter = format!("--net={}", netns_path(netns).display());
    let out = ex.output(&Cmd::new("nsenter").args([enter.as_str(), "--", "nft", "list", "tables"]))?;
    for line in out.stdout_str().lines() {
        let mut words = line.split_whitespace();
        if let (Some("table"), Some(family), Some(name)) = (words.next(), words.next(), words.next()) {
            if name.starts_with("CRIU") {
                super::links::delete_nft_table(ex, netns, family, name)?;
            }
        }
    }
    Ok(())
}

/// Up to [`DUMP_ATTEMPTS`] tries of a lazy dump into `images` on the VM of
/// `ex`: each makes the dir afresh with its [`SOURCE_MARK`] and calls
/// `start(ex, port)` with a new port for the page server; between tries
/// `unstick(ex)`. Each failed try is said on stderr; after the last the
/// mark goes (criu, exiting, undid its network lock and TCP repair: the
/// tasks run on as before, nothing for a take-up to find) and its error
/// is returned.
fn dump_attempts(
    ex: &mut dyn Executor,
    images: &Path,
    what: &str,
    unstick: &mut dyn FnMut(&mut dyn Executor) -> Result<()>,
    start: &mut dyn FnMut(&mut dyn Executor, u16) -> Result<Lazy>,
) -> Result<Lazy> {
    let mut last = None;
    for attempt in 0..DUMP_ATTEMPTS {
        if attempt > 0 {
            unstick(ex)?;
        }
        ex.remove_tree(images)?;
        ex.make_dirs(&[images])?;
        ex.write_file(&images.join(SOURCE_MARK), b"")?;
        match start(ex, next_port()) {
            Ok(lazy) => return Ok(lazy),
            Err(e) => {
                crate::info!(
                    "netbalance: {what}, attempt {}: {e}; retrying",
                    attempt + 1,
                    e = crate::error::one_line(&e)
                );
                last = Some(e);
            }
        }
    }
    let _ = ex.remove_tree(&images.join(SOURCE_MARK));
    Err(last.unwrap_or_else(|| Error::Host("criu dump --lazy-pages: no attempt".into())))
}

/// Spawn `nsenter --net=NS -- criu ARGS --status-fd 1` and wait until criu
/// reports ready (one byte on the status fd), or fails (EOF).
fn spawn_ready(netns: &str, criu: &str, args: &[String], log: &Path, what: &str) -> Result<Child> {
    // A process group of its own: a Ctrl-C at the terminal stops this
    // program (which then finishes or undoes the move), not the criu that
    // holds the pages.
    let mut child = Command::new("nsenter")
        .process_group(0)
        .arg(format!("--net={}", netns_path(netns).display()))
        .arg("--")
        .arg(criu)
        .args(args)
        .args(["--status-fd", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Host(format!("{what}: cannot start criu: {e}")))?;
    let mut byte = [0u8; 1];
    let ready = child.stdout.take().map(|mut s| s.read(&mut byte));
    if matches!(ready, Some(Ok(1))) {
        return Ok(child);
    }
    let _ = child.kill();
    let _ = child.wait();
    let tail = super::criu::log_tail(&mut super::exec::LocalExecutor, log);
    Err(Error::Host(format!("{what} failed: {tail}")))
}

impl Lazy {
    /// `criu dump --lazy-pages` of the frozen tree rooted at `pid` inside
    /// `netns` into `images`; returns once the page server listens. The
    /// dumped tasks stay (stopped) on the source until it exits.
    ///
    /// As [`super::criu::dump_frozen`]: a task frozen in the middle of a
    /// fork can be unseizable (state D), so between attempts `unstick`
    /// thaws the tree briefly and freezes it again.
    pub fn dump(
        ex: &mut dyn Executor,
        paths: &Paths,
        images: &Path,
        freezer: &Path,
        netns: &str,
        pid: u32,
        unstick: &mut dyn FnMut(&mut dyn Executor) -> Result<()>,
    ) -> Result<Lazy> {
        let d = path_str(images)?.to_string();
        let what = format!("criu dump --lazy-pages of pid {pid} in {netns}");
        dump_attempts(ex, images, &what, unstick, &mut |_, port| {
            let mut args = super::criu::dump_args(pid, &d, path_str(freezer)?);
            args.extend(["--lazy-pages", "--address", "127.0.0.1", "--port", &port.to_string()].map(String::from));
            let dump = spawn_ready(netns, &paths.criu, &args, &images.join("dump.log"), &what)?;
            Ok(Lazy {
                images: images.to_path_buf(),
                netns: netns.to_string(),
                addr: Ipv4Addr::LOCALHOST,
                port,
                dump: Proc::Here(dump),
                daemon: None,
            })
        })
    }

    /// Start the destination's `criu lazy-pages --page-server` daemon,
    /// connected to the source's page server; returns once it listens for
    /// `criu restore --lazy-pages`.
    pub fn start_daemon(&mut self, paths: &Paths) -> Result<()> {
        let args = self.daemon_args()?;
        let log = self.images.join(DAEMON_LOG);
        self.daemon = Some(Proc::Here(spawn_ready(
            &self.netns,
            &paths.criu,
            &args,
            &log,
            "criu lazy-pages",
        )?));
        Ok(())
    }

    /// The arguments of the destination's `criu lazy-pages` daemon.
    fn daemon_args(&self) -> Result<Vec<String>> {
        let d = path_str(&self.images)?;
        Ok([
            "lazy-pages",
            "--page-server",
            "--address",
            &self.addr.to_string(),
            "--port",
            &self.port.to_string(),
            "-D",
            d,
            "-o",
            DAEMON_LOG,
            // -v4: one `#PF at` line per page pulled on demand (counted by
            // `Paged::from_log`); the pages moved in the background are
            // logged per batch.
            "-v4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect())
    }

    /// Wait (at most `timeout`) until the daemon and the page server have
    /// exited: every page has arrived. Returns the seconds waited and the
    /// page counts of the daemon's log ([`Paged`]); an
    /// error if either failed or took longer (then both are killed).
    /// `on_vm` reaches the VMs of processes that run over SSH.
    pub fn finish(mut self, timeout: Duration, on_vm: OnVm) -> Result<Paged> {
        let t0 = Instant::now();
        let mut failed = Vec::new();
        // Where the daemon's log is: its VM over SSH, else this machine.
        let daemon_vm = match &self.daemon {
            Some(Proc::There(d)) => Some(d.vm.clone()),
            _ => None,
        };
        let mut procs: Vec<(&str, Proc)> = vec![("page server (criu dump)", self.dump)];
        procs.extend(self.daemon.take().map(|c| ("criu lazy-pages", c)));
        for (what, p) in procs {
            let outcome = match p {
                Proc::Here(c) => wait_child(c, t0, timeout),
                Proc::There(r) => r.wait(t0, timeout, on_vm),
            };
            if let Err(why) = outcome {
                failed.push(format!("{what} {why}"));
            }
        }
        if failed.is_empty() {
            let s = t0.elapsed().as_secs_f64();
            let log = self.images.join(DAEMON_LOG);
            let mut text = Vec::new();
            let read = match &daemon_vm {
                // Only the lines counted: a -v4 log is large.
                Some(vm) => on_vm(vm, &mut |ex| {
                    let grep = Cmd::new("grep").args(["-e", "#PF at ", "-e", "UFFD transferred pages: ("]);
                    let out = ex.output(&grep.arg(path_str(&log)?))?;
                    if out.status > 1 {
                        return Err(Error::Host(format!(
                            "{}: grep {}: {}",
                            ex.label(),
                            log.display(),
                            out.stderr_str().trim()
                        )));
                    }
                    text = out.stdout;
                    Ok(())
                }),
                None => std::fs::read(&log)
                    .map(|t| text = t)
                    .map_err(|e| Error::Host(format!("{}: {e}", log.display()))),
            };
            if let Err(e) = read {
                // The pages arrived: a log that cannot be read costs the counts only.
                crate::info!(
                    "netbalance: post-copy page counts not read: {}",
                    crate::error::one_line(&e)
                );
            }
            Ok(Paged::from_log(&String::from_utf8_lossy(&text), s))
        } else {
            Err(Error::Host(format!(
                "post-copy of {}: {}",
                self.images.display(),
                failed.join("; ")
            )))
        }
    }

    /// Stop both processes at once (a failed move).
    pub fn abort(self, on_vm: OnVm) {
        let _ = self.finish(Duration::ZERO, on_vm);
    }
}

/// Wait for a local criu child until `t0 + timeout` (then kill it); `Err`
/// says how it ended if not with status 0.
fn wait_child(mut c: Child, t0: Instant, timeout: Duration) -> std::result::Result<(), String> {
    loop {
        match c.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("exited with {st}")),
            Ok(None) if t0.elapsed() > timeout => {
                let _ = c.kill();
                let _ = c.wait();
                return Err(format!("still ran after {timeout:?}: killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
