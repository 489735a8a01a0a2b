//! [`SshExecutor`]: one persistent SSH session per VM (libssh2 via `ssh2`).
//!
//! Host keys are checked against a known_hosts file (OpenSSH format). An
//! unknown host is refused unless `accept_new` is set (then its key is added,
//! as OpenSSH's `StrictHostKeyChecking=accept-new` does); a changed key is
//! always refused. Errors quote the key's SHA256 fingerprint in OpenSSH's
//! notation (`SHA256:…`, unpadded base64), so it can be compared with
//! `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the VM.
//!
//! Authentication: the key file if one is given, else ssh-agent
//! (`SSH_AUTH_SOCK`). Passwords are never used.

use super::exec::{path_str, Cmd, Executor, Output};
use crate::error::{Error, Result};
use crate::model::testbed::SshTarget;
use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to connect and whom to trust.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// The known_hosts file to check host keys against (and to add to with `accept_new`).
    pub known_hosts: PathBuf,
    /// Accept and record the key of a host not in `known_hosts` yet.
    pub accept_new: bool,
    /// A private key file; `None`: ssh-agent.
    pub identity: Option<PathBuf>,
    pub connect_timeout: Duration,
}

impl SshOptions {
    /// `~/.ssh/known_hosts`, no accept-new, agent authentication, 10 s timeout.
    pub fn new(known_hosts: impl Into<PathBuf>) -> Self {
        SshOptions {
            known_hosts: known_hosts.into(),
            accept_new: false,
            identity: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
    /// The user's `~/.ssh/known_hosts`.
    pub fn default_known_hosts() -> PathBuf {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        home.join(".ssh/known_hosts")
    }
}

/// TCP keepalive on the SSH connection: a peer that stops answering is
/// declared dead after ~35 s (15 s idle, then 4 probes 5 s apart), and the
/// blocked read or write fails instead of hanging.
fn tcp_keepalive(tcp: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    let fd = tcp.as_raw_fd();
    let set = |level: libc::c_int, opt: libc::c_int, v: libc::c_int| unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 15);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4);
}

/// OpenSSH's fingerprint notation of a SHA-256 digest: `SHA256:` + base64 without padding.
pub fn sha256_fingerprint(digest: &[u8]) -> String {
    format!("SHA256:{}", base64_nopad(digest))
}

fn base64_nopad(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(data)
}

/// A VM reached over SSH. Every command is one `exec` channel on the same
/// session; its argument vector is quoted for the remote shell.
pub struct SshExecutor {
    target: SshTarget,
    session: Session,
    fingerprint: String,
}

fn ssh_err(target: &SshTarget, what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
    Error::host_op(format!("{}@{}:{}", target.user, target.host, target.port), what, e)
}

impl SshExecutor {
    /// Connect, check the host key, authenticate.
    pub fn connect(target: &SshTarget, opts: &SshOptions) -> Result<SshExecutor> {
        let addr = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| ssh_err(target, "cannot resolve", e))?
            .next()
            .ok_or_else(|| ssh_err(target, "cannot resolve", "no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, opts.connect_timeout)
            .map_err(|e| ssh_err(target, "cannot connect", e))?;
        let _ = tcp.set_nodelay(true);
        tcp_keepalive(&tcp);
        let mut session = Session::new().map_err(|e| ssh_err(target, "ssh session", e))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(opts.connect_timeout.as_millis().min(u32::MAX as u128) as u32);
        session.handshake().map_err(|e| ssh_err(target, "ssh handshake", e))?;
        let fingerprint = check_host_key(&session, target, opts)?;
        authenticate(&session, target, opts)?;
        // Commands may run long (criu, tar): no timeout once connected.
        // No SSH-level keepalive either: libssh2 (1.11) then ends a blocking
        // read or write that sees no traffic for an interval with "Timed out
        // waiting on socket" (a command silent for a while on a slow VM, e.g.
        // under TCG). A dead peer is found by TCP keepalive instead.
        session.set_timeout(0);
        Ok(SshExecutor {
            target: target.clone(),
            session,
            fingerprint,
        })
    }

    /// The server's host key fingerprint (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

fn check_host_key(session: &Session, target: &SshTarget, opts: &SshOptions) -> Result<String> {
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| ssh_err(target, "host key", "server sent none"))?;
    let fp = sha256_fingerprint(session.host_key_hash(HashType::Sha256).unwrap_or(&[]));
    let mut kh = session.known_hosts().map_err(|e| ssh_err(target, "known_hosts", e))?;
    let file = &opts.known_hosts;
    if file.exists() {
        kh.read_file(file, KnownHostFileKind::OpenSSH)
            .map_err(|e| ssh_err(target, &format!("reading {}", file.display()), e))?;
    }
    let host_label = if target.port == 22 {
        target.host.clone()
    } else {
        format!("[{}]:{}", target.host, target.port)
    };
    match kh.check_port(&target.host, target.port, key) {
        CheckResult::Match => Ok(fp),
        CheckResult::Mismatch => Err(ssh_err(
            target,
            "HOST KEY CHANGED",
            format!(
                "the server offers {fp}, which differs from the key recorded for {host_label} in {}; refusing to connect \
                 (if the VM was reinstalled, remove the old entry with `ssh-keygen -R '{host_label}' -f {}`)",
                file.display(),
                file.display()
            ),
        )),
        CheckResult::NotFound if opts.accept_new => {
            kh.add(&host_label, key, "added by netbalance", key_type.into())
                .map_err(|e| ssh_err(target, "known_hosts add", e))?;
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            kh.write_file(file, KnownHostFileKind::OpenSSH)
                .map_err(|e| ssh_err(target, &format!("writing {}", file.display()), e))?;
            crate::info!("netbalance: added {host_label} ({fp}) to {}", file.display());
            Ok(fp)
        }
        CheckResult::NotFound => Err(ssh_err(
            target,
            "unknown host key",
            format!(
                "{host_label} is not in {} (its key is {fp}); check the fingerprint on the VM and add it, \
                 or allow accept-new",
                file.display()
            ),
        )),
        CheckResult::Failure => Err(ssh_err(target, "host key check", format!("failed for {fp}"))),
    }
}

fn authenticate(session: &Session, target: &SshTarget, opts: &SshOptions) -> Result<()> {
    let mut tried = Vec::new();
    if let Some(key) = &opts.identity {
        match session.userauth_pubkey_file(&target.user, None, key, None) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("key {}: not accepted", key.display())),
            Err(e) => tried.push(format!("key {}: {e}", key.display(), e = crate::error::one_line(&e))),
        }
    } else if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match session.userauth_agent(&target.user) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push("ssh-agent: not accepted".into()),
            Err(e) => tried.push(format!("ssh-agent: {e}", e = crate::error::one_line(&e))),
        }
    } else {
        tried.push("no key file given and no ssh-agent (SSH_AUTH_SOCK unset)".into());
    }
    Err(ssh_err(target, "authentication failed", tried.join("; ")))
}

impl Executor for SshExecutor {
    fn label(&self) -> String {
        format!("{}@{}:{}", self.target.user, self.target.host, self.target.port)
    }
    fn machine(&self) -> Option<String> {
        // One endpoint, one machine. (Not the host key: cloned VMs may share one.)
        Some(format!(
            "ssh:{}@{}:{}",
            self.target.user, self.target.host, self.target.port
        ))
    }
    fn output(&mut self, cmd: &Cmd) -> Result<Output> {
        let mut input: &[u8] = cmd.stdin.as_deref().unwrap_or(&[]);
        self.output_from(cmd, &mut input)
    }
    fn output_from(&mut self, cmd: &Cmd, input: &mut dyn Read) -> Result<Output> {
        let line = cmd.to_shell()?;
        let t = self.target.clone();
        let mut ch = self
            .session
            .channel_session()
            .map_err(|e| ssh_err(&t, "open channel", e))?;
        ch.exec(&line).map_err(|e| ssh_err(&t, &format!("exec `{line}`"), e))?;
        super::stream::copy_big(input, &mut ch)
            .map_err(|e| Error::host_op(self.label(), format!("writing the stdin of `{line}`"), e))?;
        ch.send_eof().map_err(|e| ssh_err(&t, "send eof", e))?;
        finish(&t, ch)
    }
    fn pipe_to(&mut self, cmd: &Cmd, dst: &mut dyn Executor, dst_cmd: &Cmd) -> Result<u64> {
        let line = cmd.to_shell()?;
        let t = self.target.clone();
        let mut ch = self
            .session
            .channel_session()
            .map_err(|e| ssh_err(&t, "open channel", e))?;
        ch.exec(&line).map_err(|e| ssh_err(&t, &format!("exec `{line}`"), e))?;
        ch.send_eof().map_err(|e| ssh_err(&t, "send eof", e))?;
        let mut counted = Counted { inner: &mut ch, n: 0 };
        let dst_out = dst.output_from(dst_cmd, &mut counted)?;
        let n = counted.n;
        let src_out = finish(&t, ch)?;
        if !src_out.success() {
            return Err(Error::host_command(
                self.label(),
                &line,
                src_out.status,
                &src_out.stderr_str(),
            ));
        }
        if !dst_out.success() {
            return Err(Error::host_command(
                dst.label(),
                dst_cmd,
                dst_out.status,
                &dst_out.stderr_str(),
            ));
        }
        Ok(n)
    }
    fn read_file(&mut self, path: &Path) -> Result<Vec<u8>> {
        let p = path_str(path)?;
        let out = self.output(&Cmd::new("cat").args(["--", p]))?;
        if !out.success() {
            let why = out.stderr_str().trim().to_string();
            return Err(Error::host_op(self.label(), format!("reading {p}"), why));
        }
        Ok(out.stdout)
    }
    fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()> {
        let p = path_str(path)?;
        // dd copies stdin to the file whole (no count=, so short pipe reads are harmless).
        self.run(
            &Cmd::new("dd")
                .args([format!("of={p}"), "bs=65536".into(), "status=none".into()])
                .stdin(data.to_vec()),
        )
        .map(|_| ())
    }
}

/// A reader that counts the bytes read through it.
struct Counted<'a, R: Read> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// Read the rest of a channel's stdout and its stderr, wait for it to
/// close and collect the exit status.
fn finish(t: &SshTarget, mut ch: ssh2::Channel) -> Result<Output> {
    // stdout first, then stderr: a program writing more than one window
    // (2 MB) to stderr before closing stdout would block; ours do not.
    let mut stdout = Vec::new();
    ch.read_to_end(&mut stdout)
        .map_err(|e| ssh_err(t, "reading stdout", e))?;
    let mut stderr = Vec::new();
    ch.stderr()
        .read_to_end(&mut stderr)
        .map_err(|e| ssh_err(t, "reading stderr", e))?;
    ch.wait_close().map_err(|e| ssh_err(t, "close channel", e))?;
    let mut status = ch.exit_status().map_err(|e| ssh_err(t, "exit status", e))?;
    if let Ok(sig) = ch.exit_signal() {
        if sig.exit_signal.is_some() {
            status = -1;
        }
    }
    Ok(Output { status, stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_openssh_style() {
        assert_eq!(base64_nopad(b""), "");
        assert_eq!(base64_nopad(b"f"), "Zg");
        assert_eq!(base64_nopad(b"fo"), "Zm8");
        assert_eq!(base64_nopad(b"foo"), "Zm9v");
        assert_eq!(base64_nopad(b"foobar"), "Zm9vYmFy");
        // 32 zero bytes: 43 characters, as in OpenSSH fingerprints.
        assert_eq!(sha256_fingerprint(&[0u8; 32]), format!("SHA256:{}", "A".repeat(43)));
    }
}

/// The SSH flags of the commands that reach VMs (`migrate`, `monitor`, `calibrate`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SshArgs {
    /// known_hosts file for the VMs' host keys [default: the testbed's "known_hosts", else ~/.ssh/known_hosts]
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused
    #[arg(long)]
    pub accept_new: bool,
    /// Private key for the VMs [default: the testbed's "identity", else ssh-agent]
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

impl SshArgs {
    pub fn options(&self, testbed: &crate::model::Testbed) -> SshOptions {
        let kh = self
            .known_hosts
            .clone()
            .or_else(|| testbed.known_hosts.as_ref().map(PathBuf::from))
            .unwrap_or_else(SshOptions::default_known_hosts);
        let mut o = SshOptions::new(kh);
        o.accept_new = self.accept_new;
        o.identity = self
            .identity
            .clone()
            .or_else(|| testbed.identity.as_ref().map(PathBuf::from));
        o
    }
}
