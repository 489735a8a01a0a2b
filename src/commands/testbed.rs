//! `netbalance testbed`: the shorthand testbed generator (SPEC §1).

use super::Status;
use crate::error::{Error, Result};
use crate::model::Testbed;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance testbed --hosts 8 --cpus 8 > testbed.json\n  netbalance testbed --hosts 2 --cpus 4 --nic-mbps 1000"
)]
pub struct Args {
    /// Number of physical hosts
    #[arg(long, default_value_t = 8)]
    pub hosts: usize,
    /// CPUs (= VMs) per host
    #[arg(long, default_value_t = 8)]
    pub cpus: usize,
    /// NIC bandwidth of every host, Mbit/s
    #[arg(long, value_name = "MBPS", default_value_t = 10_000.0)]
    pub nic_mbps: f64,
    /// CPU capacity of every VM (CPU-seconds per second)
    #[arg(long, default_value_t = 1.0)]
    pub capacity: f64,
}

pub fn run(args: Args) -> Result<Status> {
    if args.hosts == 0 || args.cpus == 0 {
        return Err(Error::usage("--hosts and --cpus must be at least 1"));
    }
    if args.hosts.saturating_mul(args.cpus) > crate::limits::MAX_VMS {
        return Err(Error::usage(format!(
            "--hosts {} --cpus {}: at most {} VMs",
            args.hosts,
            args.cpus,
            crate::limits::MAX_VMS
        )));
    }
    let mut tb = Testbed::generate(args.hosts, args.cpus, args.nic_mbps);
    for host in &mut tb.hosts {
        for vm in &mut host.vms {
            vm.capacity = args.capacity;
        }
    }
    tb.validate("<arguments>")?;
    crate::io::write_json_stdout(&tb)?;
    Ok(Status::Done)
}
