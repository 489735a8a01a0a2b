//! Post-copy between VMs reached over SSH: the source's lazy dump and the
//! destination's lazy-pages daemon run detached under `netbalance pages`
//! on their VMs ([`crate::testbed::pages`]), which print when criu is
//! ready and leave its exit status in a file beside the images.
//!
//! The page server listens on 127.0.0.1 inside the source vnode's
//! namespace; `netbalance pages --relay` listens on the source VM's own
//! address (the host of its SSH target) and relays the daemon's one
//! connection into the namespace. The daemon runs in the destination VM's
//! root namespace and connects to that relay, so the pages go VM to VM,
//! never through this program.

use super::{Lazy, OnVm, Proc};
use crate::error::{Error, Result};
use crate::testbed::exec::{path_str, Cmd, Executor};
use crate::testbed::pages;
use crate::testbed::site::netns_path;
use crate::testbed::vnode::Paths;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The status file of the source's page server (criu dump --lazy-pages).
pub const SERVER_STATUS: &str = "page-server.status";
/// The status file of the destination's lazy-pages daemon.
pub const DAEMON_STATUS: &str = "lazy-pages.status";

/// True if `ex` reaches a VM over SSH (not this machine, not a dry run).
pub fn is_remote(ex: &dyn Executor) -> bool {
    !ex.is_dry_run() && ex.machine().as_deref() != Some("local")
}

/// A criu process under `netbalance pages` on VM `vm`.
#[derive(Debug)]
pub struct Detached {
    pub vm: String,
    /// criu's pid on the VM.
    pub pid: u32,
    /// The file its exit status goes to.
    pub status: PathBuf,
}

/// Run `criu ARGS --status-fd 1` under `BIN pages` on `ex` (with `relay`
/// arguments, if any); returns criu's pid and the relay's port once criu
/// is ready, else why not (with the end of its `log`, `criu::log_tail`).
fn start(
    ex: &mut dyn Executor,
    bin: &str,
    status: &Path,
    relay: &[String],
    criu: Vec<String>,
    log: &Path,
    what: &str,
) -> Result<(u32, u16)> {
    let cmd = Cmd::new(bin)
        .args(["pages", "--status", path_str(status)?])
        .args(relay.iter().cloned())
        .arg("--")
        .args(criu)
        .args(["--status-fd", "1"]);
    let out = ex.output(&cmd)?;
    if out.success() {
        return pages::parse_ready(&out.stdout_str())
            .ok_or_else(|| Error::Host(format!("{}: {what}: no ready line: {:?}", ex.label(), out.stdout_str())));
    }
    let tail = crate::testbed::criu::log_tail(ex, log);
    Err(Error::Host(format!(
        "{}: {what} failed: {} {tail}",
        ex.label(),
        out.stderr_str().trim()
    )))
}

impl Lazy {
    /// [`Lazy::dump`] on VM `vm` over SSH: the lazy dump under `bin pages`
    /// with a relay on `addr` (the VM's own address) into `netns`.
    #[allow(clippy::too_many_arguments)]
    pub fn dump_over_ssh(
        ex: &mut dyn Executor,
        vm: &str,
        bin: &str,
        paths: &Paths,
        images: &Path,
        freezer: &Path,
        netns: &str,
        pid: u32,
        addr: Ipv4Addr,
        unstick: &mut dyn FnMut(&mut dyn Executor) -> Result<()>,
    ) -> Result<Lazy> {
        let d = path_str(images)?.to_string();
        let status = images.join(SERVER_STATUS);
        let what = format!("criu dump --lazy-pages of pid {pid} in {netns}");
        super::dump_attempts(ex, images, &what, unstick, &mut |ex, port| {
            let ns = netns_path(netns);
            let relay = vec![
                "--relay".to_string(),
                format!("{addr}:0"),
                "--netns".to_string(),
                path_str(&ns)?.to_string(),
                "--port".to_string(),
                port.to_string(),
            ];
            let mut criu = vec![
                "nsenter".to_string(),
                format!("--net={}", ns.display()),
                "--".to_string(),
                paths.criu.clone(),
            ];
            criu.extend(crate::testbed::criu::dump_args(pid, &d, path_str(freezer)?));
            criu.extend(["--lazy-pages", "--address", "127.0.0.1", "--port", &port.to_string()].map(String::from));
            let (criu_pid, relay_port) = start(ex, bin, &status, &relay, criu, &images.join("dump.log"), &what)?;
            Ok(Lazy {
                images: images.to_path_buf(),
                netns: netns.to_string(),
                addr,
                port: relay_port,
                dump: Proc::There(Detached {
                    vm: vm.to_string(),
                    pid: criu_pid,
                    status: status.clone(),
                }),
                daemon: None,
            })
        })
    }

    /// [`Lazy::start_daemon`] on VM `vm` over SSH, in its root namespace,
    /// connecting to the source's relay.
    pub fn start_daemon_over_ssh(&mut self, ex: &mut dyn Executor, vm: &str, bin: &str, paths: &Paths) -> Result<()> {
        let status = self.images.join(DAEMON_STATUS);
        let mut criu = vec![paths.criu.clone()];
        criu.extend(self.daemon_args()?);
        let log = self.images.join(super::DAEMON_LOG);
        let (pid, _) = start(ex, bin, &status, &[], criu, &log, "criu lazy-pages")?;
        self.daemon = Some(Proc::There(Detached {
            vm: vm.to_string(),
            pid,
            status,
        }));
        Ok(())
    }
}

impl Detached {
    /// Poll its status file until `t0 + timeout` (then kill criu and give
    /// it 10 s to be gone); `Err` says how it ended if not with status 0.
    pub(super) fn wait(self, t0: Instant, timeout: Duration, on_vm: OnVm) -> std::result::Result<(), String> {
        let mut killed = false;
        let mut deadline = t0 + timeout;
        loop {
            let mut status = None;
            let read = on_vm(&self.vm, &mut |ex| {
                let out = ex.output(&Cmd::new("cat").arg(path_str(&self.status)?))?;
                status = out.success().then(|| pages::parse_status(&out.stdout_str())).flatten();
                Ok(())
            });
            if let Err(e) = read {
                return Err(format!("on {}: {}", self.vm, crate::error::one_line(&e)));
            }
            match status {
                Some(0) if !killed => return Ok(()),
                Some(code) if !killed => return Err(format!("exited with status {code} on {}", self.vm)),
                Some(_) => return Err(format!("still ran after {timeout:?} on {}: killed", self.vm)),
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None if killed => return Err(format!("pid {} on {} did not end when killed", self.pid, self.vm)),
                None => {
                    let pid = self.pid.to_string();
                    let _ = on_vm(&self.vm, &mut |ex| {
                        ex.run(&Cmd::new("kill").args(["-KILL", &pid])).map(drop)
                    });
                    killed = true;
                    deadline = Instant::now() + Duration::from_secs(10);
                }
            }
        }
    }
}

/// True if the relay of the page server on these images has let a daemon
/// connect (the pages are on their way to another VM).
pub fn relay_connected(ex: &mut dyn Executor, images: &Path) -> Result<bool> {
    ex.exists(&pages::connected_file(&images.join(SERVER_STATUS)))
}

/// What a post-copy move over SSH needs on the VM of `ex`: the netbalance
/// binary there, and `addr`, the VM's address as the other VMs reach it.
pub fn binary_and_address(ex: &mut dyn Executor, paths: &Paths, addr: Option<Ipv4Addr>) -> Result<(String, Ipv4Addr)> {
    let bin = paths.keeper_on(ex)?.ok_or_else(|| {
        Error::Host(format!(
            "{}: post-copy over SSH runs criu under `netbalance pages`, and no netbalance binary is configured \
             for the VMs",
            ex.label()
        ))
    })?;
    let addr = addr.ok_or_else(|| {
        Error::Host(format!(
            "{}: post-copy over SSH needs the VM's address (the host of its SSH target) for its page server",
            ex.label()
        ))
    })?;
    Ok((bin, addr))
}
