//! `netbalance traffic` (hidden): the paper's video-sensor workload as a
//! vnode's `run` command (see [`crate::traffic`]): send R Mbit/s of UDP
//! towards the sink named in a file, relay what arrives, one NDJSON report
//! line per interval on stdout.

use super::Status;
use crate::error::Result;
use crate::io::Source;
use crate::traffic::{Relay, Tree};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples (as a vnode's \"run\"; $NETBALANCE is the netbalance binary on its VM):\n  $NETBALANCE traffic --topology /srv/grid.json --vnode g1_2 --sink-file /srv/sink --mbps 2 --c-proc 0.01"
)]
pub struct Args {
    /// The topology the testbed runs (its links give the next hops' addresses)
    #[arg(long, value_name = "FILE")]
    pub topology: PathBuf,
    /// This vnode's id
    #[arg(long, value_name = "ID")]
    pub vnode: String,
    /// A file holding the sink's vnode id, re-read every second (no file: send nothing)
    #[arg(long, value_name = "FILE")]
    pub sink_file: PathBuf,
    /// Mbit/s this vnode generates towards the sink
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    pub mbps: f64,
    /// UDP port of every vnode
    #[arg(long, default_value_t = 5999)]
    pub port: u16,
    /// CPU-seconds spent per Mbit received or sent (model §6's c_proc; on top of the sockets' own cost)
    #[arg(long, value_name = "X", default_value_t = crate::simulate::scenario::PAPER_C_PROC)]
    pub c_proc: f64,
    /// Seconds between two report lines on stdout (0: none)
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub report_s: f64,
}

pub fn run(args: Args) -> Result<Status> {
    let topo = crate::topology::read_topology(&Source::from_arg(&args.topology))?;
    if !topo.vnodes.iter().any(|v| v.id == args.vnode) {
        return Err(crate::error::Error::usage(format!(
            "traffic: --vnode {:?} is not a vnode of {}",
            args.vnode,
            args.topology.display()
        )));
    }
    let tree = Tree::new(&topo)?;
    let relay = Relay {
        vnode: args.vnode,
        mbps: args.mbps,
        port: args.port,
        c_proc: args.c_proc,
        sink_file: args.sink_file,
        report_s: args.report_s,
    };
    crate::traffic::run(&relay, &tree, &mut std::io::stdout())?;
    Ok(Status::Done)
}
