//! `netbalance testbed`: the shorthand testbed generator (model §1).

use super::Status;
use crate::error::{Error, Result};
use crate::model::{inventory, Testbed};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance testbed --hosts 8 --cpus 8 > testbed.json\n  netbalance testbed --hosts 8 --cpus 8 --local-cpus $(nproc) > local.json\n  netbalance testbed --hosts 2 --cpus 4 --nic-mbps 1000\n  netbalance testbed --hosts 8 --cpus 8 --ssh 'root@10.0.{h}.{v+10}:22' > testbed.json\n  netbalance testbed --hosts-file vms.txt > testbed.json\n\nA hosts file lists one VM per line, `user@host[:port] [HOST]` (# comments); VMs naming the same\nHOST share a physical host; lines without HOST form groups separated by blank lines."
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
    /// Reach VM v of host h at this ssh target: {h}, {v}, {i} (VM number in the testbed), with offsets like {i+10}
    #[arg(long, value_name = "TEMPLATE", conflicts_with = "hosts_file")]
    pub ssh: Option<String>,
    /// The VMs of a real cluster, one `user@host[:port] [HOST]` per line (replaces --hosts and --cpus)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["hosts", "cpus"])]
    pub hosts_file: Option<std::path::PathBuf>,
    /// CPUs of this machine, which does the work of moves between local VMs (model §3) [default: unset, each VM its own CPU]
    #[arg(long, value_name = "N")]
    pub local_cpus: Option<u32>,
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
    let tb = match &args.hosts_file {
        Some(file) => {
            let source = crate::io::Source::from_arg(file);
            inventory::from_hosts_file(&source.read_to_string()?, &source.name(), args.nic_mbps, args.capacity)?
        }
        None => {
            let mut tb = Testbed::generate(args.hosts, args.cpus, args.nic_mbps);
            for host in &mut tb.hosts {
                for vm in &mut host.vms {
                    vm.capacity = args.capacity;
                }
            }
            if let Some(template) = &args.ssh {
                inventory::apply_template(&mut tb, template)?;
            }
            tb
        }
    };
    let mut tb = tb;
    tb.local_cpus = args.local_cpus;
    tb.validate("<arguments>")?;
    crate::io::write_json_stdout(&tb)?;
    Ok(Status::Done)
}
