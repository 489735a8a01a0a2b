//! `netbalance keeper [--detach] -- CMD ARGS…` (hidden): run CMD under a
//! daemon that adopts and reaps its orphans at once (see
//! [`crate::testbed::keeper`]). The testbed runs `criu restore` and vnode
//! start-up through it on each VM, so that a later checkpoint never waits
//! for pid 1 to reap the killed tasks.

use super::Status;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance keeper -- nsenter --net=/run/netns/X criu restore -d -D DIR\n  netbalance keeper --detach -- nsenter --net=/run/netns/X sh -c SCRIPT"
)]
pub struct Args {
    /// Return as soon as CMD has started (its output goes to /dev/null)
    #[arg(long)]
    pub detach: bool,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Exits the process with CMD's status (any code, not only 0/1/2/3).
pub fn run(args: Args) -> Result<Status> {
    let code = crate::testbed::keeper::run(&args.command, args.detach);
    std::process::exit(code)
}
