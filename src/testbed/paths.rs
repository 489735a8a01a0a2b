//! Where things live on every VM ([`Paths`]: state directories, the criu
//! binary, the cgroup drivers, the netbalance binary that keeps vnodes and
//! copies images) and how a command is run under the keeper.

use super::cgroup::Cgroups;
use super::exec::{Cmd, Executor};
use crate::error::Result;
use std::path::PathBuf;

/// Where things live on every VM.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Per-vnode state directories (`<root>/<cgroup name>/`: pid, out.log, images/).
    pub state_root: PathBuf,
    /// The criu binary.
    pub criu: String,
    pub cgroups: Cgroups,
    /// The `netbalance` binary whose hidden `keeper` subcommand adopts and
    /// reaps a vnode's processes (see [`super::keeper`]); used on every VM
    /// where this path exists. Its `xfer` subcommand is the direct image
    /// transfer between VMs ([`super::transfer`]). `None`: vnodes and restored trees are
    /// orphans of pid 1, and a checkpoint waits for it to reap them.
    pub keeper: Option<String>,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            state_root: PathBuf::from("/var/lib/netbalance/vnodes"),
            criu: "criu".into(),
            cgroups: Cgroups::default(),
            keeper: default_keeper(),
        }
    }
}

/// `$NETBALANCE_KEEPER` (empty: none), else this program if it is the
/// `netbalance` binary (not, say, a test harness linking the library).
pub fn default_keeper() -> Option<String> {
    if let Some(k) = std::env::var_os("NETBALANCE_KEEPER") {
        return (!k.is_empty()).then(|| k.to_string_lossy().into_owned());
    }
    let exe = std::env::current_exe().ok()?;
    (exe.file_name()? == "netbalance").then(|| exe.to_string_lossy().into_owned())
}

/// `KEEPER keeper [--detach] -- CMD…`.
pub fn under_keeper(keeper: &str, cmd: Cmd, detach: bool) -> Cmd {
    let mut c = Cmd::new(keeper).arg("keeper");
    if detach {
        c = c.arg("--detach");
    }
    let mut c = c.arg("--").arg(cmd.program).args(cmd.args);
    c.stdin = cmd.stdin;
    c
}

impl Paths {
    pub fn vnode_dir(&self, cgroup: &str) -> PathBuf {
        self.state_root.join(cgroup)
    }

    /// The keeper binary on this VM, if configured and present there (on a
    /// remote VM: its checked copy, see [`super::provision`]).
    pub fn keeper_on(&self, ex: &mut dyn Executor) -> Result<Option<String>> {
        let Some(k) = &self.keeper else { return Ok(None) };
        let k = super::provision::binary_on(ex, k)?;
        Ok(ex.exists(std::path::Path::new(&k))?.then_some(k))
    }

    /// `cmd` run under the keeper on this VM when there is one (see
    /// [`Paths::keeper`]); `detach`: return once it has started.
    pub fn kept(&self, ex: &mut dyn Executor, cmd: Cmd, detach: bool) -> Result<Cmd> {
        Ok(match self.keeper_on(ex)? {
            Some(k) => under_keeper(&k, cmd, detach),
            None => cmd,
        })
    }
}
