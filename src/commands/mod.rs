//! One module per subcommand: its `Args` and `pub fn run` (parse → resolve →
//! call the library). Commands never import one another.

pub mod balance;
pub mod calibrate;
pub mod completions;
pub mod cost;
pub mod dirty;
pub mod export;
pub mod keeper;
pub mod lab;
pub mod migrate;
pub mod monitor;
pub mod pages;
pub mod place;
pub mod predict;
pub mod simulate;
pub mod status;
pub mod testbed;
pub mod topology;
pub mod traffic;
pub mod xfer;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::model::MigrationMode;

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit 0.
    Done,
    /// Exit 1: a negative answer (no beneficial re-placement, a failed check).
    Negative,
}

impl Status {
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Done => 0,
            Status::Negative => 1,
        }
    }
}

/// Refuse a migration mode this build cannot carry out on hosts (model
/// §3.1): stop-and-copy and pre-copy run everywhere (the driver refuses
/// pre-copy on a kernel without soft-dirty tracking, `criu check --feature
/// mem_dirty_track`, before anything pauses), post-copy (CRIU lazy pages)
/// on a testbed whose VMs are all local or all reached over SSH (the
/// driver checks `criu check --feature uffd-noncoop`, the pipe size and,
/// over SSH, the netbalance binary when it moves).
pub(crate) fn check_host_mode(command: &str, mode: MigrationMode, testbed: &crate::model::Testbed) -> Result<()> {
    let vms = || testbed.hosts.iter().flat_map(|h| &h.vms);
    let remote = vms().find(|vm| vm.ssh.is_some());
    let local = vms().find(|vm| vm.ssh.is_none());
    match (mode, remote, local) {
        (MigrationMode::PostCopy, Some(r), Some(l)) => Err(crate::error::Error::usage(format!(
            "{command}: post-copy (model §3.1) runs between local VMs or between VMs over SSH, not on a \
             testbed that mixes them (VM {} is reached over SSH, VM {} is local): pass --migration stop-copy \
             or pre-copy",
            r.name, l.name
        ))),
        _ => Ok(()),
    }
}

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<Status> {
    crate::log::set_level(crate::log::level_of(cli.quiet, cli.verbose));
    match cli.command {
        Command::Testbed(args) => testbed::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Topology(args) => topology::run(args),
        Command::Balance(args) => balance::run(*args),
        Command::Place(args) => place::run(args),
        Command::Monitor(args) => monitor::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Keeper(args) => keeper::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Xfer(args) => xfer::run(args),
        Command::Pages(args) => pages::run(args),
        Command::Dirty(args) => dirty::run(args),
        Command::Traffic(args) => traffic::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Export(args) => export::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Status(args) => status::run(args),
    }
}
