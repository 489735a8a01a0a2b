//! `netbalance pages --status FILE [--relay ADDR --netns PATH --port P] --
//! CMD…` (hidden): one criu process of a post-copy move on a VM reached
//! over SSH, detached, its readiness printed and its exit status left in
//! FILE (see [`crate::testbed::pages`]).

use super::Status;
use crate::error::{Error, Result};
use crate::testbed::pages::{Relay, Spec};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance pages --status DIR/lazy-pages.status -- criu lazy-pages --page-server --address 10.0.0.5 --port 40123 -D DIR --status-fd 1\n  netbalance pages --status DIR/page-server.status --relay 10.0.0.5:0 --netns /run/netns/X --port 31000 -- nsenter --net=/run/netns/X -- criu dump … --lazy-pages --address 127.0.0.1 --port 31000 --status-fd 1"
)]
pub struct Args {
    /// Where the command's exit status goes once it has exited
    #[arg(long, value_name = "FILE")]
    pub status: PathBuf,
    /// Relay the first connection to ADDR (port 0: any free port) into --netns
    #[arg(long, value_name = "ADDR:PORT", requires_all = ["netns", "port"])]
    pub relay: Option<SocketAddr>,
    /// The network namespace the relay connects in (a /run/netns path)
    #[arg(long, value_name = "PATH", requires = "relay")]
    pub netns: Option<PathBuf>,
    /// The port on 127.0.0.1 in --netns the relay connects to
    #[arg(long, value_name = "P", requires = "relay")]
    pub port: Option<u16>,
    /// The command (it writes one byte to stdout once ready), and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Exits 0 once CMD is ready (`ready PID PORT` on stdout), 1 if it is not.
pub fn run(args: Args) -> Result<Status> {
    let relay = match (args.relay, args.netns, args.port) {
        (Some(listen), Some(netns), Some(port)) => Some(Relay { listen, netns, port }),
        (None, None, None) => None,
        _ => return Err(Error::usage("pages: --relay, --netns and --port go together")),
    };
    let spec = Spec {
        command: args.command,
        status: args.status,
        relay,
    };
    std::process::exit(crate::testbed::pages::run(&spec))
}
