//! The two ends of a direct VM-to-VM directory copy, run on the VMs as
//! `netbalance xfer recv` and `netbalance xfer send` (hidden subcommands;
//! [`super::transfer`] starts them over the SSH sessions).
//!
//! Wire format, one TCP connection from the source VM to the destination:
//! the sender writes a 32-character token and `\n`, then a tar archive of
//! its directory (`tar -cf - .`), then half-closes; the receiver unpacks it
//! with `tar -xf -` and answers one line, `ok` or `error: …`, then closes.
//!
//! The token (random, handed to both ends on their stdin over SSH) keeps a
//! stray connection from writing into the state directory. It is not
//! authentication against someone on the testbed LAN who can read the
//! traffic: the stream is plain TCP, neither encrypted nor signed.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Length of the token (hex characters).
pub const TOKEN_LEN: usize = 32;

/// Silence on an established connection longer than this aborts the copy.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh random token ([`TOKEN_LEN`] hex characters).
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn host_err(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
    Error::host_op("xfer", what, e)
}

/// Check a token as read from stdin (trailing newline allowed).
pub fn parse_token(s: &str) -> Result<String> {
    let t = s.trim();
    if t.len() != TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(host_err(
            "token",
            format!("expected {TOKEN_LEN} hex characters on stdin"),
        ));
    }
    Ok(t.to_string())
}

/// Bind the receiver's listening socket (port 0: any free port).
pub fn listen(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| host_err(&format!("listen on {addr}"), e))
}

/// Wait until `l` has a connection to accept or `deadline` passes.
fn wait_acceptable(l: &TcpListener, deadline: Instant) -> Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(host_err("receive", "no sender connected in time"));
        }
        let mut p = libc::pollfd {
            fd: l.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(host_err("poll", std::io::Error::last_os_error()));
        }
    }
}

/// Accept connections on `l` until one presents `token` (others are
/// answered `error: bad token` and dropped), unpack its archive into `dir`
/// (created if missing) and answer it. Gives up at `deadline` if no sender
/// came. Returns the archive's size. O(archive).
pub fn serve(l: &TcpListener, dir: &Path, token: &str, deadline: Instant) -> Result<u64> {
    std::fs::create_dir_all(dir).map_err(|e| host_err(&format!("mkdir {}", dir.display()), e))?;
    loop {
        wait_acceptable(l, deadline)?;
        let (conn, _) = match l.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(host_err("accept", e)),
        };
        conn.set_read_timeout(Some(IDLE_TIMEOUT))
            .map_err(|e| host_err("socket", e))?;
        let mut reader = BufReader::with_capacity(256 * 1024, conn.try_clone().map_err(|e| host_err("socket", e))?);
        let mut line = String::new();
        let ok = reader.by_ref().take(TOKEN_LEN as u64 + 1).read_line(&mut line).is_ok() && line.trim_end() == token;
        let mut conn = conn;
        if !ok {
            let _ = conn.write_all(b"error: bad token\n");
            continue;
        }
        let result = untar(&mut reader, dir);
        let reply = match &result {
            Ok(_) => "ok\n".to_string(),
            Err(e) => format!("error: {}\n", crate::error::one_line(e)),
        };
        let _ = conn.write_all(reply.as_bytes());
        let _ = conn.shutdown(Shutdown::Both);
        return result;
    }
}

/// `tar -C dir ARGS` with the given stdin and stdout, and a thread that
/// collects its stderr (so it cannot block on a full pipe).
/// [`serve`] in a child process that leaves the caller's session and stdio
/// (the receiving end of `netbalance xfer recv`): the caller (an SSH exec)
/// returns once it and every holder of its stdio have gone, while the child
/// serves one sender until `deadline` and exits. Call it only from a
/// process with a single thread (it forks).
pub fn serve_detached(l: &TcpListener, dir: &Path, token: &str, deadline: Instant) -> Result<()> {
    // SAFETY: a CLI process with one thread; the child only calls
    // async-signal-safe functions before it goes on as a normal process.
    match unsafe { libc::fork() } {
        -1 => Err(host_err("fork", std::io::Error::last_os_error())),
        0 => {
            detach_stdio();
            let code = i32::from(serve(l, dir, token, deadline).is_err());
            std::process::exit(code)
        }
        _ => Ok(()),
    }
}

/// New session, stdin/stdout/stderr on /dev/null.
fn detach_stdio() {
    // SAFETY: plain system calls on our own descriptors.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

fn spawn_tar(dir: &Path, args: &[&str], stdin: Stdio, stdout: Stdio) -> Result<(Child, JoinHandle<String>)> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| host_err("cannot start tar", e))?;
    let mut err = tar.stderr.take().expect("piped");
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Ok((tar, errs))
}

/// `tar -C dir -xf -` fed from `input` to its end; its stderr in the error.
fn untar(input: &mut dyn Read, dir: &Path) -> Result<u64> {
    let (mut tar, errs) = spawn_tar(dir, &["-xf", "-"], Stdio::piped(), Stdio::null())?;
    let copied = copy_big(input, tar.stdin.as_mut().expect("piped"));
    drop(tar.stdin.take());
    let status = tar.wait().map_err(|e| host_err("tar", e))?;
    let stderr = errs.join().unwrap_or_default();
    if !status.success() {
        return Err(host_err(&format!("tar -x exited with {status}"), stderr.trim()));
    }
    copied.map_err(|e| host_err("receiving", e))
}

/// `io::copy` with a 256 KB buffer: fewer system calls than its 8 KB, and
/// into an SSH channel fewer calls (libssh2 sends at most one 32 KB packet
/// per call).
pub(crate) fn copy_big(from: &mut dyn Read, to: &mut dyn Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..k])?;
        n += k as u64;
    }
}

/// Connect to the receiver at `to`, send `token` and `tar -C dir -cf - .`,
/// and wait for its answer. Returns the bytes of the archive. O(archive).
pub fn send(to: SocketAddr, dir: &Path, token: &str, connect_timeout: Duration) -> Result<u64> {
    let mut conn =
        TcpStream::connect_timeout(&to, connect_timeout).map_err(|e| host_err(&format!("connect to {to}"), e))?;
    conn.set_read_timeout(Some(IDLE_TIMEOUT))
        .map_err(|e| host_err("socket", e))?;
    conn.set_write_timeout(Some(IDLE_TIMEOUT))
        .map_err(|e| host_err("socket", e))?;
    conn.write_all(format!("{token}\n").as_bytes())
        .map_err(|e| host_err("send", e))?;
    let (mut tar, errs) = spawn_tar(dir, &["-cf", "-", "."], Stdio::null(), Stdio::piped())?;
    let mut out = tar.stdout.take().expect("piped");
    let sent = copy_big(&mut out, &mut conn);
    drop(out);
    if sent.is_err() {
        let _ = tar.kill(); // it would block on the full pipe
    }
    let status = tar.wait().map_err(|e| host_err("tar", e))?;
    let stderr = errs.join().unwrap_or_default();
    if !status.success() && sent.is_ok() {
        return Err(host_err(
            &format!("tar -c of {} exited with {status}", dir.display()),
            stderr.trim(),
        ));
    }
    // A failed write usually means the receiver gave up: its answer says why.
    let _ = conn.shutdown(Shutdown::Write);
    let mut answer = String::new();
    let _ = BufReader::new(&conn).take(64 * 1024).read_line(&mut answer);
    let answer = answer.trim();
    match (sent, answer) {
        (Ok(n), "ok") => Ok(n),
        (_, a) if a.starts_with("error: ") => Err(host_err(&format!("receiver at {to}"), &a[7..])),
        (Err(e), _) => Err(host_err(&format!("sending to {to}"), e)),
        (Ok(_), a) => Err(host_err(&format!("receiver at {to}"), format!("no answer ({a:?})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(src: &Path, dst: &Path, sender_token: &str) -> (Result<u64>, Result<u64>) {
        let token = new_token();
        let l = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let (dst, t) = (dst.to_path_buf(), token.clone());
        let rx = std::thread::spawn(move || serve(&l, &dst, &t, Instant::now() + Duration::from_secs(3)));
        let tok = if sender_token.is_empty() {
            token
        } else {
            sender_token.to_string()
        };
        let sent = send(addr, src, &tok, Duration::from_secs(3));
        (sent, rx.join().unwrap())
    }

    #[test]
    fn copies_a_tree_and_rejects_a_bad_token() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("s");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("pages-1.img"), vec![5u8; 3 << 20]).unwrap();
        std::fs::write(src.join("sub/x"), b"x").unwrap();
        let dst = t.path().join("d/e");
        let (sent, got) = pair(&src, &dst, "");
        let n = sent.unwrap();
        assert_eq!(got.unwrap(), n);
        assert!(n > 3 << 20);
        assert_eq!(std::fs::read(dst.join("pages-1.img")).unwrap(), vec![5u8; 3 << 20]);
        assert_eq!(std::fs::read(dst.join("sub/x")).unwrap(), b"x");

        // A wrong token is refused; the receiver waits on and times out.
        let dst2 = t.path().join("d2");
        let (sent, got) = pair(&src, &dst2, &"0".repeat(TOKEN_LEN));
        // (The answer `bad token` may be lost to the reset of the unread stream.)
        assert!(sent.is_err());
        assert!(crate::error::one_line(&got.unwrap_err()).contains("no sender connected"));
        assert!(!dst2.join("pages-1.img").exists());
    }

    #[test]
    fn a_tar_failure_reaches_the_sender() {
        let t = tempfile::tempdir().unwrap();
        let (sent, _) = pair(&t.path().join("missing"), &t.path().join("d"), "");
        assert!(sent.unwrap_err().to_string().contains("tar -c"));
        assert!(parse_token("abc").is_err());
        assert_eq!(parse_token(&format!("{}\n", "a".repeat(32))).unwrap(), "a".repeat(32));
    }
}
