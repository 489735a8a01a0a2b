//! The shared lab of the real-VM tests: [`shared`] boots it on first use.

use crate::testbed_support::require;
use netbalance::model::Testbed;
use netbalance::testbed::{SshArgs, SshExecutor};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// How many VMs the shared lab has (hosts h0.., one VM h<i>-v0 each).
pub const VMS: usize = 2;

/// What the tests need from the lab; every VM answers SSH.
#[derive(Debug)]
pub struct Lab {
    /// The lab directory (testbed.json, known_hosts, id_ed25519, lab/).
    pub dir: PathBuf,
    /// `dir/testbed.json`.
    pub testbed_path: PathBuf,
    /// The VMs' names, `h0-v0`, `h1-v0`, ...
    pub vms: Vec<String>,
}

/// The programs and rights the lab needs (see `require`).
pub const TOOLS: &[&str] = &[
    "qemu-system-x86_64",
    "qemu-img",
    "mmdebstrap",
    "mkfs.ext4",
    "ssh",
    "ssh-keygen",
    "/usr/local/sbin/criu",
];

/// This build's netbalance binary.
pub fn netbalance() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
}

/// The lab directory of this build (fixed, so that a lab left by a killed
/// run is found and taken down by the next).
pub fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-vms-lab")
}

/// The shared lab, booted on first call; `None`: the prerequisites are
/// missing and this is not CI (the test should return, it was skipped).
/// Panics if the lab cannot be brought up.
pub fn shared() -> Option<&'static Lab> {
    if !require(TOOLS) {
        return None;
    }
    static LAB: OnceLock<Result<Lab, String>> = OnceLock::new();
    match LAB.get_or_init(boot) {
        Ok(lab) => Some(lab),
        Err(e) => panic!("the shared lab did not come up: {e}"),
    }
}

extern "C" fn take_down_at_exit() {
    let dir = lab_dir();
    match netbalance().args(["lab", "down", "--dir"]).arg(&dir).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "real_vms: lab down --dir {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("real_vms: lab down: {e}"),
    }
}

fn boot() -> Result<Lab, String> {
    let dir = lab_dir();
    // A lab of an earlier, killed run of this binary.
    let out = netbalance()
        .args(["lab", "down", "--dir"])
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "taking down the previous lab: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let t0 = std::time::Instant::now();
    // Registered before `up`: a failed up has already cleaned up, a half-made one is taken down.
    unsafe { libc::atexit(take_down_at_exit) };
    let out = netbalance()
        .args(["lab", "up", "--vms", &VMS.to_string(), "--dir"])
        .arg(&dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("lab up exited with {}", out.status));
    }
    eprintln!("real_vms: shared lab up in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(Lab {
        testbed_path: dir.join("testbed.json"),
        vms: (0..VMS).map(|i| format!("h{i}-v0")).collect(),
        dir,
    })
}

/// Tests that compare a VM's whole state before and after, or load its
/// CPU, hold this: one such test at a time on the shared VMs.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lab {
    /// `netbalance lab ssh VM -- ARGV...`: the command's output and status.
    pub fn ssh(&self, vm: &str, argv: &[&str]) -> Output {
        netbalance()
            .args(["lab", "ssh", vm, "--dir"])
            .arg(&self.dir)
            .arg("--")
            .args(argv)
            .output()
            .expect("running netbalance lab ssh")
    }

    /// Like [`Lab::ssh`], asserting success; returns stdout.
    pub fn ssh_ok(&self, vm: &str, argv: &[&str]) -> String {
        let out = self.ssh(vm, argv);
        assert!(
            out.status.success(),
            "{vm}: {argv:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The lab's testbed.json, parsed and validated.
    pub fn testbed(&self) -> Testbed {
        let text = std::fs::read_to_string(&self.testbed_path).expect("reading the lab's testbed.json");
        let tb: Testbed = serde_json::from_str(&text).expect("parsing the lab's testbed.json");
        tb.validate("testbed.json").expect("the lab's testbed is valid");
        tb
    }

    /// An SSH session to `vm`, set up exactly as the CLI commands do it
    /// from testbed.json (its known_hosts and identity, no flags).
    pub fn executor(&self, vm: &str) -> SshExecutor {
        let tb = self.testbed();
        let target = tb
            .vms()
            .find(|(_, v)| v.name == vm)
            .and_then(|(_, v)| v.ssh.clone())
            .unwrap_or_else(|| panic!("no VM {vm} with an ssh target in the lab's testbed"));
        let target = netbalance::model::testbed::parse_ssh_target(&target).unwrap();
        SshExecutor::connect(&target, &SshArgs::default().options(&tb)).unwrap_or_else(|e| panic!("ssh to {vm}: {e}"))
    }

    /// A `netbalance` command run in the lab directory (so that
    /// `./testbed.json` is the testbed, as for a user after `lab up`).
    pub fn netbalance(&self) -> Command {
        let mut c = netbalance();
        c.current_dir(&self.dir);
        c
    }
}
