//! Running programs on a VM: an argument vector, never a shell line made of
//! data. [`LocalExecutor`] runs here, [`crate::testbed::ssh::SshExecutor`] on
//! a VM over one persistent SSH session, [`DryRunExecutor`] only records.

use super::quote;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// A program and its arguments, optionally with bytes for its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, it: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }
    /// Program and arguments.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
    /// The command as one quoted shell line (what an SSH exec request carries).
    pub fn to_shell(&self) -> Result<String> {
        quote::join(&self.argv())
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_shell() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{:?}", self.argv()),
        }
    }
}

/// What a finished program left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; -1 when killed by a signal.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Where a command runs. Implementations hold their connection (if any).
pub trait Executor: Send {
    /// A short name for messages: `local`, `root@10.0.0.5:22`, `dry-run`.
    fn label(&self) -> String;

    /// Identity of the machine: two executors with the same `Some` value see
    /// the same files and namespaces (a copy between them is a no-op or a
    /// local `cp`). `None`: unknown, treat as different.
    fn machine(&self) -> Option<String>;

    /// Run a program to its end and return its status and output (a non-zero
    /// status is not an error here).
    fn output(&mut self, cmd: &Cmd) -> Result<Output>;

    /// Read a whole file.
    fn read_file(&mut self, path: &Path) -> Result<Vec<u8>>;

    /// Create or truncate a file and write `data` into it.
    fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()>;

    /// Run a program; a non-zero exit is an error naming the command, the
    /// executor and the program's stderr. Returns stdout.
    fn run(&mut self, cmd: &Cmd) -> Result<String> {
        let out = self.output(cmd)?;
        if !out.success() {
            return Err(Error::host_command(self.label(), cmd, out.status, &out.stderr_str()));
        }
        Ok(out.stdout_str())
    }

    /// True for an executor that only records commands: callers must not
    /// wait for effects (pid files, states) that will never appear.
    fn is_dry_run(&self) -> bool {
        false
    }

    /// Run a program whose stdin is read from `input` as it comes (not held
    /// whole in memory where the executor can stream). Default: read it all,
    /// then [`Executor::output`].
    fn output_from(&mut self, cmd: &Cmd, input: &mut dyn std::io::Read) -> Result<Output> {
        let mut data = Vec::new();
        input
            .read_to_end(&mut data)
            .map_err(|e| Error::host_op(self.label(), format!("reading the input of `{cmd}`"), e))?;
        self.output(&cmd.clone().stdin(data))
    }

    /// Run `cmd` here and `dst_cmd` on `dst`, the first's stdout feeding the
    /// second's stdin; a non-zero exit of either is an error. Returns the
    /// bytes that passed. Default: the whole output first, then the second
    /// program; the SSH executor streams.
    fn pipe_to(&mut self, cmd: &Cmd, dst: &mut dyn Executor, dst_cmd: &Cmd) -> Result<u64> {
        let out = self.run_bytes(cmd)?;
        let n = out.len() as u64;
        dst.run(&dst_cmd.clone().stdin(out))?;
        Ok(n)
    }

    /// [`Executor::run`], stdout as bytes.
    fn run_bytes(&mut self, cmd: &Cmd) -> Result<Vec<u8>> {
        let out = self.output(cmd)?;
        if !out.success() {
            return Err(Error::host_command(self.label(), cmd, out.status, &out.stderr_str()));
        }
        Ok(out.stdout)
    }

    /// True if `path` exists (as seen by `test -e`).
    fn exists(&mut self, path: &Path) -> Result<bool> {
        Ok(self.output(&Cmd::new("test").arg("-e").arg(path_str(path)?))?.success())
    }

    /// Create each directory with its parents (`mkdir -p`; no error if it exists).
    fn make_dirs(&mut self, dirs: &[&Path]) -> Result<()> {
        let args: Vec<&str> = dirs.iter().map(|d| path_str(d)).collect::<Result<_>>()?;
        self.run(&Cmd::new("mkdir").args(["-p", "--"]).args(args))?;
        Ok(())
    }

    /// Remove `dir` and what it holds (`rm -rf --one-file-system`: no error
    /// if it does not exist, nothing on another file system removed).
    fn remove_tree(&mut self, dir: &Path) -> Result<()> {
        self.run(&Cmd::new("rm").args(["-rf", "--one-file-system", "--", path_str(dir)?]))?;
        Ok(())
    }

    /// True if `a` and `b` name the same file (`test A -ef B`: one device
    /// and inode), e.g. `/proc/PID/ns/net` and `/run/netns/NAME`; false if
    /// either is missing.
    fn same_file(&mut self, a: &Path, b: &Path) -> Result<bool> {
        Ok(self
            .output(&Cmd::new("test").args([path_str(a)?, "-ef", path_str(b)?]))?
            .success())
    }

    /// The bytes under `dir` as `du -sb` counts them (apparent sizes of
    /// every entry, the directories' own included, a hard-linked file once).
    fn disk_usage(&mut self, dir: &Path) -> Result<u64> {
        let out = self.run(&Cmd::new("du").args(["-sb", "--", path_str(dir)?]))?;
        Ok(out.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// The names in directory `dir` (none if it does not exist), unsorted.
    fn list_dir(&mut self, dir: &Path) -> Result<Vec<String>> {
        let d = path_str(dir)?;
        let out = self.run(&Cmd::new("sh").args(["-c", "[ ! -d \"$1\" ] || ls -1A -- \"$1\"", "sh", d]))?;
        Ok(out.lines().map(str::to_string).collect())
    }
}

/// `rm -rf --one-file-system DIR` in this process (a process start costs
/// ms here): no error if `dir` is missing; a directory on another file
/// system than `dir` (a mount point) is refused, as `rm` refuses it, and
/// nothing under it is touched. Symbolic links are removed, not followed.
fn remove_tree_here(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &Path, dev: u64) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if !meta.is_dir() {
                std::fs::remove_file(&path)?;
            } else if meta.dev() != dev {
                return Err(std::io::Error::other(format!(
                    "{} is on another file system",
                    path.display()
                )));
            } else {
                walk(&path, dev)?;
                std::fs::remove_dir(&path)?;
            }
        }
        Ok(())
    }
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(dir);
    }
    walk(dir, meta.dev())?;
    std::fs::remove_dir(dir)
}

/// [`Executor::disk_usage`] in this process: `du -sb`'s sum.
fn disk_usage_here(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    fn walk(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> std::io::Result<u64> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            return Ok(0);
        }
        let mut bytes = meta.len();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                bytes += walk(&entry?.path(), seen)?;
            }
        }
        Ok(bytes)
    }
    walk(dir, &mut Default::default())
}

pub(crate) fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| Error::Host(format!("path {p:?} is not UTF-8")))
}

/// Runs programs on this machine with `std::process::Command`.
#[derive(Debug, Default, Clone)]
pub struct LocalExecutor;

impl Executor for LocalExecutor {
    fn label(&self) -> String {
        "local".into()
    }
    fn machine(&self) -> Option<String> {
        Some("local".into())
    }
    fn output(&mut self, cmd: &Cmd) -> Result<Output> {
        let t0 = std::time::Instant::now();
        let out = self.output_untimed(cmd)?;
        if std::env::var_os("NETBALANCE_TRACE_COMMANDS").is_some() {
            eprintln!("netbalance: local {:.1} ms: {cmd}", t0.elapsed().as_secs_f64() * 1e3);
        }
        Ok(out)
    }
    fn read_file(&mut self, path: &Path) -> Result<Vec<u8>> {
        std::fs::read(path).map_err(|e| Error::host_op("local", format!("reading {}", path.display()), e))
    }
    fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()> {
        std::fs::write(path, data).map_err(|e| Error::host_op("local", format!("writing {}", path.display()), e))
    }
    fn exists(&mut self, path: &Path) -> Result<bool> {
        Ok(path.exists())
    }
    fn make_dirs(&mut self, dirs: &[&Path]) -> Result<()> {
        for d in dirs {
            std::fs::create_dir_all(d).map_err(|e| Error::host_op("local", format!("creating {}", d.display()), e))?;
        }
        Ok(())
    }
    fn same_file(&mut self, a: &Path, b: &Path) -> Result<bool> {
        use std::os::unix::fs::MetadataExt;
        Ok(match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
            _ => false,
        })
    }
    fn disk_usage(&mut self, dir: &Path) -> Result<u64> {
        disk_usage_here(dir).map_err(|e| Error::host_op("local", format!("du -sb {}", dir.display()), e))
    }
    fn remove_tree(&mut self, dir: &Path) -> Result<()> {
        remove_tree_here(dir).map_err(|e| Error::host_op("local", format!("removing {}", dir.display()), e))
    }
    fn list_dir(&mut self, dir: &Path) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::host_op("local", format!("listing {}", dir.display()), e)),
        };
        entries
            .map(|e| {
                e.map(|e| e.file_name().to_string_lossy().into_owned())
                    .map_err(|e| Error::host_op("local", format!("listing {}", dir.display()), e))
            })
            .collect()
    }
}

impl LocalExecutor {
    /// [`Executor::output`] without the trace line (`$NETBALANCE_TRACE_COMMANDS`
    /// set: each command's wall time goes to stderr).
    fn output_untimed(&mut self, cmd: &Cmd) -> Result<Output> {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = c
            .spawn()
            .map_err(|e| Error::host_op("local", format!("cannot start `{cmd}`"), e))?;
        // Feed stdin from a thread so that a program writing a lot before it
        // has read everything cannot deadlock against us.
        let feeder = match (&cmd.stdin, child.stdin.take()) {
            (Some(data), Some(mut pipe)) => {
                let data = data.clone();
                Some(std::thread::spawn(move || {
                    let _ = pipe.write_all(&data);
                }))
            }
            _ => None,
        };
        let out = child
            .wait_with_output()
            .map_err(|e| Error::host_op("local", format!("`{cmd}`"), e))?;
        if let Some(t) = feeder {
            let _ = t.join();
        }
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Records every command instead of running it (for `--dry-run`). Commands
/// succeed with empty output; files read as empty and every path exists.
#[derive(Debug, Clone)]
pub struct DryRunExecutor {
    label: String,
    machine: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl DryRunExecutor {
    /// `label` names the VM in the log; `log` may be shared by several VMs.
    pub fn new(label: impl Into<String>, log: Arc<Mutex<Vec<String>>>) -> Self {
        let label = label.into();
        DryRunExecutor {
            machine: format!("dry-run:{label}"),
            label,
            log,
        }
    }
    /// The machine the real executor would be on (`local`, or an SSH endpoint).
    pub fn on_machine(mut self, machine: impl Into<String>) -> Self {
        self.machine = machine.into();
        self
    }
    fn record(&self, line: String) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{}: {line}", self.label));
    }
}

impl Executor for DryRunExecutor {
    fn label(&self) -> String {
        format!("dry-run {}", self.label)
    }
    fn machine(&self) -> Option<String> {
        Some(self.machine.clone())
    }
    fn output(&mut self, cmd: &Cmd) -> Result<Output> {
        let mut line = cmd.to_shell()?;
        if let Some(data) = &cmd.stdin {
            if let Ok(text) = std::str::from_utf8(data) {
                line.push_str(&format!(" <<< {}", quote::quote(text)));
            } else {
                line.push_str(&format!(" < ({} bytes)", data.len()));
            }
        }
        self.record(line);
        Ok(Output::default())
    }
    fn read_file(&mut self, path: &Path) -> Result<Vec<u8>> {
        self.record(format!("read {}", quote::quote(path_str(path)?)));
        Ok(Vec::new())
    }
    fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()> {
        self.record(format!(
            "write {} ({} bytes)",
            quote::quote(path_str(path)?),
            data.len()
        ));
        Ok(())
    }
    fn exists(&mut self, path: &Path) -> Result<bool> {
        self.record(format!("test -e {}", quote::quote(path_str(path)?)));
        Ok(true)
    }
    fn is_dry_run(&self) -> bool {
        true
    }
}

/// Copy directory `src_dir` on `src` to `dst_dir` on `dst` (created if
/// missing; files in it are overwritten). Between two executors on one
/// machine and the same path it does nothing; on one machine it uses `cp -a`;
/// otherwise it pipes a tar archive through this process
/// ([`Executor::pipe_to`]: streamed from one SSH session into the other). Returns the bytes
/// moved over the wire (0 for a local copy).
pub fn copy_dir(src: &mut dyn Executor, src_dir: &Path, dst: &mut dyn Executor, dst_dir: &Path) -> Result<u64> {
    let s = path_str(src_dir)?;
    let d = path_str(dst_dir)?;
    let same_machine = matches!((src.machine(), dst.machine()), (Some(a), Some(b)) if a == b);
    if same_machine {
        if src_dir == dst_dir {
            return Ok(0);
        }
        dst.run(&Cmd::new("mkdir").args(["-p", "--", d]))?;
        dst.run(&Cmd::new("cp").args(["-a", "--", &format!("{s}/."), d]))?;
        return Ok(0);
    }
    dst.run(&Cmd::new("mkdir").args(["-p", "--", d]))?;
    src.pipe_to(
        &Cmd::new("tar").args(["-C", s, "-cf", "-", "."]),
        dst,
        &Cmd::new("tar").args(["-C", d, "-xf", "-"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_removes_nested_files_keeps_link_targets_and_allows_missing() {
        let t = tempfile::tempdir().unwrap();
        let keep = t.path().join("keep");
        std::fs::write(&keep, b"k").unwrap();
        let d = t.path().join("d");
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink(&keep, d.join("a/link")).unwrap();
        std::os::unix::fs::symlink(t.path(), d.join("dirlink")).unwrap();
        let mut ex = LocalExecutor;
        ex.remove_tree(&d).unwrap();
        assert!(!d.exists());
        assert_eq!(std::fs::read(&keep).unwrap(), b"k");
        ex.remove_tree(&d).unwrap(); // missing: fine
    }

    #[test]
    fn local_runs_argv_without_a_shell() {
        let mut ex = LocalExecutor;
        let out = ex
            .output(&Cmd::new("printf").args(["%s|", "a;b", "$(x)", "c d"]))
            .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout_str(), "a;b|$(x)|c d|");
        let err = ex
            .run(&Cmd::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited with 3") && err.contains("oops"), "{err}");
        let err = ex.run(&Cmd::new("/nonexistent/prog")).unwrap_err().to_string();
        assert!(err.contains("cannot start"), "{err}");
    }

    #[test]
    fn local_stdin_large() {
        let mut ex = LocalExecutor;
        let data = vec![b'x'; 4 << 20];
        let out = ex.output(&Cmd::new("wc").arg("-c").stdin(data)).unwrap();
        assert_eq!(out.stdout_str().trim(), (4u64 << 20).to_string());
    }

    /// The in-process answers are the commands' answers (the default
    /// methods run `du -sb` and `test -ef`, as on an SSH host).
    #[test]
    fn local_disk_usage_and_same_file_agree_with_du_and_test() {
        struct Commands;
        impl Executor for Commands {
            fn label(&self) -> String {
                "commands".into()
            }
            fn machine(&self) -> Option<String> {
                None
            }
            fn output(&mut self, cmd: &Cmd) -> Result<Output> {
                LocalExecutor.output(cmd)
            }
            fn read_file(&mut self, path: &Path) -> Result<Vec<u8>> {
                LocalExecutor.read_file(path)
            }
            fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()> {
                LocalExecutor.write_file(path, data)
            }
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("images");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("pages-1.img"), vec![7u8; 123_457]).unwrap();
        std::fs::write(d.join("sub/deeper/f"), b"x").unwrap();
        std::fs::hard_link(d.join("pages-1.img"), d.join("sub/again")).unwrap();
        std::os::unix::fs::symlink("../pages-1.img", d.join("sub/link")).unwrap();
        let here = LocalExecutor.disk_usage(&d).unwrap();
        assert!(here > 123_457, "{here}");
        assert_eq!(here, Commands.disk_usage(&d).unwrap());
        let (net, other) = (Path::new("/proc/self/ns/net"), d.join("pages-1.img"));
        for (a, b, same) in [
            (net, net, true),
            (net, other.as_path(), false),
            (&d.join("sub/again"), &other, true),
        ] {
            assert_eq!(LocalExecutor.same_file(a, b).unwrap(), same, "{a:?} {b:?}");
            assert_eq!(Commands.same_file(a, b).unwrap(), same, "{a:?} {b:?}");
        }
        assert!(!LocalExecutor.same_file(&d.join("missing"), &d.join("missing")).unwrap());
        assert!(!Commands.same_file(&d.join("missing"), &d.join("missing")).unwrap());
    }

    #[test]
    fn local_files_and_copy() {
        let t = tempfile::tempdir().unwrap();
        let mut a = LocalExecutor;
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        a.write_file(&src.join("sub/f"), b"hello").unwrap();
        assert_eq!(a.read_file(&src.join("sub/f")).unwrap(), b"hello");
        let dst = t.path().join("dst dir");
        let mut b = LocalExecutor;
        assert_eq!(copy_dir(&mut a, &src, &mut b, &dst).unwrap(), 0);
        assert_eq!(std::fs::read(dst.join("sub/f")).unwrap(), b"hello");
    }

    #[test]
    fn copy_through_tar_between_machines() {
        // Two dry-run-free executors that claim different machines: the tar path.
        struct Other(LocalExecutor);
        impl Executor for Other {
            fn label(&self) -> String {
                "other".into()
            }
            fn machine(&self) -> Option<String> {
                None
            }
            fn output(&mut self, c: &Cmd) -> Result<Output> {
                self.0.output(c)
            }
            fn read_file(&mut self, p: &Path) -> Result<Vec<u8>> {
                self.0.read_file(p)
            }
            fn write_file(&mut self, p: &Path, d: &[u8]) -> Result<()> {
                self.0.write_file(p, d)
            }
        }
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("s");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("img"), vec![7u8; 100_000]).unwrap();
        let mut a = Other(LocalExecutor);
        let mut b = Other(LocalExecutor);
        let n = copy_dir(&mut a, &src, &mut b, &t.path().join("d")).unwrap();
        assert!(n >= 100_000);
        assert_eq!(std::fs::read(t.path().join("d/img")).unwrap(), vec![7u8; 100_000]);
    }

    #[test]
    fn dry_run_records_quoted_commands() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut d = DryRunExecutor::new("h0-v0", log.clone());
        d.run(&Cmd::new("ip").args(["netns", "add", "x y"])).unwrap();
        d.run(&Cmd::new("ip").args(["-batch", "-"]).stdin("link set lo up\n"))
            .unwrap();
        let log = log.lock().unwrap();
        assert_eq!(log[0], "h0-v0: ip netns add 'x y'");
        assert_eq!(log[1], "h0-v0: ip -batch - <<< 'link set lo up\n'");
    }
}
