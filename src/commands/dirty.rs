//! `netbalance dirty --lock-dir DIR PROCS PRE [PROCS PRE]…` (hidden): on a
//! VM, count the soft-dirty pages of each vnode's processes and clear them
//! (see [`crate::testbed::dirty`]); one line per vnode on stdout.

use super::Status;
use crate::error::{Error, Result};
use crate::testbed::dirty::{count_and_clear, write_counts, Target};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance dirty --lock-dir /var/lib/netbalance/vnodes /sys/fs/cgroup/netbalance/nb1a2b3c4d/cgroup.procs /var/lib/netbalance/vnodes/nb1a2b3c4d.pre"
)]
pub struct Args {
    /// The directory of the lock pre-copy takes too (the VM's state root)
    #[arg(long, value_name = "DIR")]
    pub lock_dir: PathBuf,
    /// Per vnode: its group's cgroup.procs file, then its pre-copy rounds' directory
    #[arg(required = true, value_name = "PROCS PRE")]
    pub pairs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<Status> {
    if args.pairs.len() % 2 != 0 {
        return Err(Error::usage(
            "dirty: give each vnode's cgroup.procs file and pre-copy directory, in pairs",
        ));
    }
    let targets: Vec<Target> = args
        .pairs
        .chunks_exact(2)
        .map(|p| Target {
            procs: p[0].clone(),
            pre: p[1].clone(),
        })
        .collect();
    let counts = count_and_clear(&args.lock_dir, &targets)
        .map_err(|e| Error::host_op("dirty", "counting soft-dirty pages", e))?;
    write_counts(&mut std::io::stdout().lock(), &counts).map_err(|e| Error::io("<stdout>", e))?;
    Ok(Status::Done)
}
