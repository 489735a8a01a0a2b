//! What `lab up` made, recorded in `DIR/lab/lab.json` as it is made, so that
//! `lab down` (even after an interrupted `up`) removes exactly that.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file names `lab up` writes into the lab directory (besides `lab/`).
pub const TESTBED_FILE: &str = "testbed.json";
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";
pub const IDENTITY_FILE: &str = "id_ed25519";
/// The subdirectory with the lab's own state and the VMs' disks and logs.
pub const STATE_DIR: &str = "lab";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    /// The lab directory, absolute.
    pub dir: PathBuf,
    /// The network namespace holding the bridge, the taps and every QEMU.
    pub netns: String,
    /// The root-namespace end of the veth into `netns` (the other end is on the bridge).
    pub veth: String,
    /// The lab's /24, e.g. `10.213.0.0/24`; the root end of the veth is `.1`.
    pub subnet: String,
    /// `kvm` or `tcg`.
    pub accel: String,
    /// The cached image the VMs' overlays are based on.
    pub image: PathBuf,
    pub memory_mb: u32,
    pub vms: Vec<VmState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmState {
    pub name: String,
    pub ip: String,
    pub tap: String,
    pub mac: String,
    /// QEMU's pid once it runs (`-pidfile`), else `None`.
    pub pid: Option<u32>,
}

impl LabState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_DIR).join("lab.json")
    }

    /// The lab recorded in `dir`, if any.
    pub fn load(dir: &Path) -> Result<Option<LabState>> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::input(
                    crate::error::Location::file(path.display().to_string()),
                    format!("not a lab state file: {e}"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path.display().to_string(), e)),
        }
    }

    /// Write the state (by rename: a reader sees the old or the new file).
    pub fn save(&self) -> Result<()> {
        let path = Self::path(&self.dir);
        let tmp = path.with_extension("json.tmp");
        let mut text = serde_json::to_string_pretty(self).expect("lab state serialises");
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| Error::io(tmp.display().to_string(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(path.display().to_string(), e))
    }

    /// Per-VM directory: disk overlay, host key, console log, QEMU pid file.
    pub fn vm_dir(&self, name: &str) -> PathBuf {
        self.dir.join(STATE_DIR).join("vms").join(name)
    }
}
