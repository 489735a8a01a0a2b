//! Moving a vnode's state directory (its CRIU images) from one VM to
//! another: the `transfer` phase of a migration.
//!
//! Three ways, chosen per move ([`copy`]):
//! - one machine: nothing, or a local `cp -a` ([`copy_dir`]);
//! - `direct` (the default, [`TransferMode::Direct`]): a plain TCP stream
//!   from the source VM to the destination VM's SSH address, between
//!   `netbalance xfer send` and `netbalance xfer recv` started over the two
//!   SSH sessions ([`super::stream`]); the images never pass this process;
//! - `ssh`: a tar archive streamed through this process, from the source's
//!   SSH session into the destination's ([`copy_dir`]). Also the fallback
//!   when `direct` cannot run (no netbalance binary on a VM, no address,
//!   the destination not reachable from the source), said on stderr.

use super::exec::{copy_dir, path_str, Cmd, Executor};
use crate::error::{Error, Result};
pub use crate::model::testbed::TransferMode;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::path::Path;

/// How long `xfer recv` waits for the sender before it gives up (s).
pub const RECV_TIMEOUT_S: u64 = 30;

/// How one copy went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Nothing was copied (not a move between machines, or no images).
    #[default]
    None,
    /// Both VMs on one machine: `cp -a` there, or nothing for the same path.
    Local,
    /// tar through this process over the two SSH sessions.
    Ssh,
    /// tar over a TCP stream from VM to VM.
    Direct,
}

impl Via {
    /// The name used in JSON and reports.
    pub fn name(self) -> &'static str {
        match self {
            Via::None => "none",
            Via::Local => "local",
            Via::Ssh => "ssh",
            Via::Direct => "direct",
        }
    }
}

/// What [`copy`] needs to know beyond the two executors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub mode: TransferMode,
    /// The destination VM's address as the source VM reaches it: the host
    /// of its SSH target (`None`: a local VM, no direct path).
    pub dst_addr: Option<Ipv4Addr>,
    /// The netbalance binary on the VMs ([`super::Paths::keeper`]).
    pub binary: Option<String>,
}

/// What [`copy`] did: the bytes that crossed between machines and the way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub via: Via,
}

/// Copy directory `dir` on `src` to the same path on `dst` the way `route`
/// says (created there if missing; files in it are overwritten). O(size).
pub fn copy(src: &mut dyn Executor, dst: &mut dyn Executor, dir: &Path, route: &Route) -> Result<Copied> {
    let same_machine = matches!((src.machine(), dst.machine()), (Some(a), Some(b)) if a == b);
    if same_machine {
        return Ok(Copied {
            bytes: copy_dir(src, dir, dst, dir)?,
            via: Via::Local,
        });
    }
    if route.mode == TransferMode::Direct {
        let why = match (&route.binary, route.dst_addr) {
            (Some(bin), Some(addr)) => match direct(src, dst, dir, addr, bin) {
                Ok(bytes) => {
                    return Ok(Copied {
                        bytes,
                        via: Via::Direct,
                    })
                }
                Err(e) => crate::error::one_line(&e),
            },
            (None, _) => "no netbalance binary configured for the VMs".to_string(),
            (_, None) => format!("{} has no address the source can reach", dst.label()),
        };
        crate::info!(
            "netbalance: direct transfer {} -> {} not possible ({why}); copying over SSH",
            src.label(),
            dst.label()
        );
    }
    Ok(Copied {
        bytes: copy_dir(src, dir, dst, dir)?,
        via: Via::Ssh,
    })
}

/// `xfer recv` on `dst` (listening on `addr`, any port), then `xfer send`
/// on `src` to it; one random token to both on stdin. Returns the bytes sent.
fn direct(src: &mut dyn Executor, dst: &mut dyn Executor, dir: &Path, addr: Ipv4Addr, bin: &str) -> Result<u64> {
    let d = path_str(dir)?;
    // The binary at each end: this one, or its checked copy on a remote VM.
    let (src_bin, dst_bin) = (
        super::provision::binary_on(src, bin)?,
        super::provision::binary_on(dst, bin)?,
    );
    let token = format!("{}\n", super::stream::new_token());
    let recv = Cmd::new(&dst_bin)
        .args([
            "xfer",
            "recv",
            "--listen",
            &format!("{addr}:0"),
            "--dir",
            d,
            "--timeout-s",
            &RECV_TIMEOUT_S.to_string(),
        ])
        .stdin(token.clone());
    let out = dst.output(&recv)?;
    if !out.success() {
        let why = if out.status == 127 {
            format!("{bin} not found there")
        } else {
            out.stderr_str().trim().to_string()
        };
        return Err(Error::Host(format!(
            "{}: `xfer recv` exited with {}: {why}",
            dst.label(),
            out.status
        )));
    }
    let port: u16 = match (dst.is_dry_run(), out.stdout_str().trim().parse()) {
        (true, _) => 0,
        (false, Ok(p)) => p,
        (false, Err(_)) => {
            return Err(Error::Host(format!(
                "{}: `xfer recv` printed no port: {:?}",
                dst.label(),
                out.stdout_str()
            )))
        }
    };
    let send = Cmd::new(&src_bin)
        .args(["xfer", "send", "--to", &format!("{addr}:{port}"), "--dir", d])
        .stdin(token);
    let out = src.output(&send)?;
    if !out.success() {
        let why = if out.status == 127 {
            format!("{bin} not found there")
        } else {
            out.stderr_str().trim().to_string()
        };
        return Err(Error::Host(format!(
            "{}: `xfer send` exited with {}: {why}",
            src.label(),
            out.status
        )));
    }
    Ok(out.stdout_str().trim().parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::exec::{DryRunExecutor, LocalExecutor, Output};
    use std::sync::{Arc, Mutex};

    /// This machine under another name: a copy between two of them is one between machines.
    struct Named(&'static str);
    impl Executor for Named {
        fn label(&self) -> String {
            self.0.into()
        }
        fn machine(&self) -> Option<String> {
            Some(self.0.into())
        }
        fn output(&mut self, c: &Cmd) -> Result<Output> {
            LocalExecutor.output(c)
        }
        fn read_file(&mut self, p: &Path) -> Result<Vec<u8>> {
            LocalExecutor.read_file(p)
        }
        fn write_file(&mut self, p: &Path, d: &[u8]) -> Result<()> {
            LocalExecutor.write_file(p, d)
        }
    }

    fn route(mode: TransferMode, binary: Option<&str>) -> Route {
        Route {
            mode,
            dst_addr: Some(Ipv4Addr::LOCALHOST),
            binary: binary.map(str::to_string),
        }
    }

    #[test]
    fn falls_back_to_ssh_without_a_binary_and_copies_locally_on_one_machine() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("v");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("img"), b"abc").unwrap();
        // Different machines, no binary: the tar path (here: the same dir, rewritten).
        let c = copy(
            &mut Named("a"),
            &mut Named("b"),
            &dir,
            &route(TransferMode::Direct, Some("/nonexistent/netbalance")),
        )
        .unwrap();
        assert_eq!(c.via, Via::Ssh);
        assert!(c.bytes >= 3);
        let c = copy(&mut Named("a"), &mut Named("b"), &dir, &route(TransferMode::Ssh, None)).unwrap();
        assert_eq!(c.via, Via::Ssh);
        let c = copy(
            &mut LocalExecutor,
            &mut LocalExecutor,
            &dir,
            &route(TransferMode::Direct, None),
        )
        .unwrap();
        assert_eq!(
            c,
            Copied {
                bytes: 0,
                via: Via::Local
            }
        );
        assert_eq!(std::fs::read(dir.join("img")).unwrap(), b"abc");
    }

    #[test]
    fn dry_run_records_both_ends_with_the_token_on_stdin() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut a = DryRunExecutor::new("h0-v0", log.clone()).on_machine("ssh:a");
        let mut b = DryRunExecutor::new("h1-v0", log.clone()).on_machine("ssh:b");
        let r = Route {
            mode: TransferMode::Direct,
            dst_addr: Some("10.0.0.6".parse().unwrap()),
            binary: Some("/usr/bin/netbalance".into()),
        };
        let c = copy(&mut a, &mut b, Path::new("/var/lib/x"), &r).unwrap();
        assert_eq!(c.via, Via::Direct);
        let log = log.lock().unwrap();
        assert!(
            log[0].starts_with(
                "h1-v0: /usr/bin/netbalance xfer recv --listen 10.0.0.6:0 --dir /var/lib/x --timeout-s 30 <<< "
            ),
            "{log:?}"
        );
        assert!(
            log[1].starts_with("h0-v0: /usr/bin/netbalance xfer send --to 10.0.0.6:0 --dir /var/lib/x <<< "),
            "{log:?}"
        );
        // The token is on stdin, not in the argument vector.
        assert_eq!(log[0].rsplit("<<< ").next(), log[1].rsplit("<<< ").next());
    }
}
