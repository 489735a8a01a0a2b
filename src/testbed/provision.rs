//! The netbalance binary on remote VMs (`keeper`, `xfer` run it there).
//!
//! On a VM reached over SSH, the binary this process runs is provisioned over
//! the VM's existing SSH session to `/var/lib/netbalance/bin/<sha256>/netbalance`
//! when it is missing there. What is copied: the binary with its debug
//! information stripped (`strip --strip-debug`, when `strip` is installed
//! here; else the binary as it is), gzip-compressed on the wire when `gzip` is
//! installed here (a 94 MB debug build becomes 15 MB, 4.4 MB on the wire).
//! `<sha256>` is the hash of the file as it lands on the VM; it is checked on
//! the VM (`sha256sum`) before the copy is renamed into place, and again the
//! first time each process uses a VM's copy; a file at that path with another
//! hash is replaced, never run. Concurrent copies of one hash (two processes)
//! each write a temporary file of their own and rename it into place. On this machine (a local VM) the binary runs
//! from where it is.

use super::exec::{Cmd, Executor, LocalExecutor};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where provisioned binaries live on a VM: `<BIN_ROOT>/<sha256>/netbalance`.
pub const BIN_ROOT: &str = "/var/lib/netbalance/bin";

/// The path of `local` (a netbalance binary on this machine) to run on the
/// machine of `ex`: `local` itself there if `ex` is this machine (or if
/// there is no such file here), else its provisioned copy (copied and
/// checked first if needed).
pub fn binary_on(ex: &mut dyn Executor, local: &str) -> Result<String> {
    if ex.machine().as_deref() == Some("local") || ex.is_dry_run() {
        return Ok(local.to_string());
    }
    if !Path::new(local).is_file() {
        // Not a binary of this machine (e.g. $NETBALANCE_KEEPER naming a path
        // that exists only on the VMs): used as it is, where it exists.
        return Ok(local.to_string());
    }
    let art = artifact(Path::new(local))?;
    let remote = remote_path(&art.hash);
    let key = (ex.machine().unwrap_or_else(|| ex.label()), art.hash.clone());
    if checked().lock().unwrap().contains_key(&key) {
        return Ok(remote);
    }
    if remote_hash(ex, &remote)?.as_deref() != Some(art.hash.as_str()) {
        copy(ex, &art)?;
    }
    checked().lock().unwrap().insert(key, ());
    Ok(remote)
}

/// `/var/lib/netbalance/bin/<sha256>/netbalance`.
pub fn remote_path(hash: &str) -> String {
    format!("{BIN_ROOT}/{hash}/netbalance")
}

/// (machine, hash) pairs whose remote copy this process has checked.
fn checked() -> &'static Mutex<HashMap<(String, String), ()>> {
    static CHECKED: OnceLock<Mutex<HashMap<(String, String), ()>>> = OnceLock::new();
    CHECKED.get_or_init(Default::default)
}

/// What goes to the VMs for one local binary: the hash of the file as it
/// will land there, and the bytes sent (gzip-compressed or not).
#[derive(Debug)]
pub struct Artifact {
    pub hash: String,
    pub wire: Vec<u8>,
    pub gzipped: bool,
    /// Size of the file on the VM.
    pub size: u64,
}

/// The artifact of `local`, prepared once per path and process (strip,
/// hash, gzip: ~1.5 s for a debug build).
pub fn artifact(local: &Path) -> Result<Arc<Artifact>> {
    static ARTIFACTS: OnceLock<Mutex<HashMap<PathBuf, Arc<Artifact>>>> = OnceLock::new();
    let all = ARTIFACTS.get_or_init(Default::default);
    let mut all = all.lock().unwrap();
    if let Some(a) = all.get(local) {
        return Ok(a.clone());
    }
    let a = Arc::new(prepare(local)?);
    all.insert(local.to_path_buf(), a.clone());
    Ok(a)
}

fn prepare(local: &Path) -> Result<Artifact> {
    let ex = &mut LocalExecutor;
    let l = local.display().to_string();
    let tmp = std::env::temp_dir().join(format!("netbalance-provision-{}", std::process::id()));
    let t = tmp.display().to_string();
    let stripped = ex
        .output(&Cmd::new("strip").args(["--strip-debug", "-o", &t, &l]))
        .map(|o| o.success())
        .unwrap_or(false);
    let file = if stripped { t.clone() } else { l.clone() };
    let result = (|| -> Result<Artifact> {
        let sum = ex.run(&Cmd::new("sha256sum").args(["--", &file]))?;
        let hash = sum
            .split_whitespace()
            .next()
            .filter(|h| h.len() == 64)
            .ok_or_else(|| Error::Host(format!("sha256sum {file}: unexpected output {sum:?}")))?
            .to_string();
        let size = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?.len();
        let gz = ex
            .output(&Cmd::new("gzip").args(["-1", "-c", "--", &file]))
            .ok()
            .filter(|o| o.success());
        Ok(match gz {
            Some(o) => Artifact {
                hash,
                wire: o.stdout,
                gzipped: true,
                size,
            },
            None => Artifact {
                hash,
                wire: std::fs::read(&file).map_err(|e| Error::io(&file, e))?,
                gzipped: false,
                size,
            },
        })
    })();
    if stripped {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The SHA-256 of a file on the VM, `None` if it is not there.
fn remote_hash(ex: &mut dyn Executor, path: &str) -> Result<Option<String>> {
    let out = ex.output(&Cmd::new("sha256sum").args(["--", path]))?;
    if !out.success() {
        return Ok(None);
    }
    Ok(out.stdout_str().split_whitespace().next().map(str::to_string))
}

/// Stream the artifact to a temporary name beside its place (unpacked
/// there), check its hash, then rename it into place.
fn copy(ex: &mut dyn Executor, art: &Artifact) -> Result<()> {
    let dir = format!("{BIN_ROOT}/{}", art.hash);
    // A name of this copy's own: two processes (or two "VMs" sharing one
    // file system) may provision the same hash at once; each renames only
    // its own complete, checked file into place.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = format!("{dir}/netbalance.part.{}.{n}", std::process::id());
    let dst = remote_path(&art.hash);
    let t0 = std::time::Instant::now();
    ex.run(&Cmd::new("mkdir").args(["-p", &dir]))?;
    let write = if art.gzipped {
        // The path is an argument of the script, never part of it.
        Cmd::new("sh").args(["-c", "gzip -dc > \"$1\"", "sh", &tmp])
    } else {
        Cmd::new("dd").args([format!("of={tmp}"), "bs=1M".into(), "status=none".into()])
    };
    let out = ex.output_from(&write, &mut art.wire.as_slice())?;
    if !out.success() {
        let _ = ex.output(&Cmd::new("rm").args(["-f", &tmp]));
        let why = out.stderr_str().trim().to_string();
        return Err(Error::host_op(
            ex.label(),
            format!("copying the netbalance binary to {tmp}"),
            why,
        ));
    }
    let got = remote_hash(ex, &tmp)?;
    if got.as_deref() != Some(art.hash.as_str()) {
        let _ = ex.output(&Cmd::new("rm").args(["-f", &tmp]));
        return Err(Error::Host(format!(
            "{}: the netbalance binary copied to {tmp} has SHA-256 {} instead of {}; not used",
            ex.label(),
            got.unwrap_or_else(|| "(unreadable)".into()),
            art.hash
        )));
    }
    ex.run(&Cmd::new("chmod").args(["755", &tmp]))?;
    ex.run(&Cmd::new("mv").args(["-f", &tmp, &dst]))?;
    crate::info!(
        "netbalance: {}: netbalance binary ({:.1} MB, {:.1} MB sent) copied to {dst} in {:.1} s",
        ex.label(),
        art.size as f64 / 1e6,
        art.wire.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// SHA-256 of `data`, lower-case hex, as `sha256sum` prints it (the `sha2` crate).
///
/// ```
/// use netbalance::testbed::provision::sha256_hex;
/// assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// ```
///
/// O(n).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::exec::Output;

    #[test]
    fn sha256_matches_known_vectors_and_sha256sum() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // Lengths around the padding boundary, against coreutils.
        for n in [55usize, 56, 63, 64, 65, 1000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let out = std::process::Command::new("sha256sum")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().unwrap().write_all(&data)?;
                    c.wait_with_output()
                });
            if let Ok(out) = out {
                let want = String::from_utf8_lossy(&out.stdout);
                assert_eq!(sha256_hex(&data), want.split_whitespace().next().unwrap(), "n = {n}");
            }
        }
    }

    /// A remote VM in a temp dir: commands run here, under a machine name of its own.
    struct FakeRemote {
        ran: Vec<String>,
        corrupt: bool,
    }

    impl Executor for FakeRemote {
        fn label(&self) -> String {
            "fake-remote".into()
        }
        fn machine(&self) -> Option<String> {
            Some(format!("fake-remote-{}", self.corrupt))
        }
        fn output(&mut self, cmd: &Cmd) -> Result<Output> {
            self.ran.push(cmd.program.clone());
            crate::testbed::LocalExecutor.output(cmd)
        }
        fn output_from(&mut self, cmd: &Cmd, input: &mut dyn std::io::Read) -> Result<Output> {
            let mut data = Vec::new();
            input.read_to_end(&mut data).unwrap();
            if self.corrupt {
                // A bit flipped on the way (inside the gzip stream: still a valid
                // member? not necessarily; either way the result must be refused).
                let i = data.len() / 2;
                data[i] ^= 1;
            }
            self.output(&cmd.clone().stdin(data))
        }
        fn read_file(&mut self, path: &Path) -> Result<Vec<u8>> {
            crate::testbed::LocalExecutor.read_file(path)
        }
        fn write_file(&mut self, path: &Path, data: &[u8]) -> Result<()> {
            crate::testbed::LocalExecutor.write_file(path, data)
        }
    }

    #[test]
    fn local_machine_runs_the_binary_in_place() {
        let mut ex = crate::testbed::LocalExecutor;
        assert_eq!(binary_on(&mut ex, "/some/netbalance").unwrap(), "/some/netbalance");
    }

    #[test]
    fn a_copy_with_a_wrong_hash_is_refused_and_removed() {
        // Writes under BIN_ROOT on this machine: only as root, as the testbed tests.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root (writes {BIN_ROOT})");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("netbalance");
        let content = format!("#!/bin/sh\necho provision-test {:?}\n", dir.path());
        std::fs::write(&bin, &content).unwrap();
        let hash = sha256_hex(content.as_bytes());
        assert_eq!(artifact(&bin).unwrap().hash, hash, "a script is not stripped");
        let remote = remote_path(&hash);

        let mut bad = FakeRemote {
            ran: vec![],
            corrupt: true,
        };
        let err = binary_on(&mut bad, bin.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("instead of") || err.contains("copying"), "{err}");
        assert!(!Path::new(&remote).exists());
        let left: Vec<_> = std::fs::read_dir(Path::new(&remote).parent().unwrap())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");

        let mut good = FakeRemote {
            ran: vec![],
            corrupt: false,
        };
        assert_eq!(binary_on(&mut good, bin.to_str().unwrap()).unwrap(), remote);
        assert_eq!(std::fs::read_to_string(&remote).unwrap(), content);
        // Checked once per machine and process: no second sha256sum.
        let n = good.ran.len();
        binary_on(&mut good, bin.to_str().unwrap()).unwrap();
        assert_eq!(good.ran.len(), n);
        std::fs::remove_dir_all(Path::new(&remote).parent().unwrap()).unwrap();
    }
}
