//! `netbalance lab`: real QEMU VMs on this machine as a testbed (docs/lab.md).

use super::Status;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sudo netbalance lab up --vms 2          # writes ./testbed.json, ./known_hosts, ./id_ed25519\n  \
sudo netbalance lab ssh h0-v0 -- uname -r\n  sudo netbalance lab status\n  sudo netbalance lab down\n\n\
The guest image (stock Debian 12 with systemd, cgroup v2, openssh-server, iproute2, nftables and\n\
this machine's CRIU) is built once with mmdebstrap and cached under ~/.cache/netbalance/lab/.\n\
The VMs' network lives in a namespace of its own, reached from here by one veth; nothing else\n\
is reachable from the VMs. Needs root, qemu-system-x86, qemu-utils, mmdebstrap (.ci/install-deps.sh)."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// Build the image if needed, boot N VMs, write DIR/testbed.json, DIR/known_hosts, DIR/id_ed25519
    Up(UpArgs),
    /// Stop the lab's VMs and remove its network namespace, veth, disks and files
    Down(DirArg),
    /// Print the lab's VMs as JSON (exit 1: no lab, or a VM is not running)
    Status(DirArg),
    /// Open a shell on a lab VM, or run one command there (stdout, stderr and exit code passed through)
    Ssh(SshArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct DirArg {
    /// The lab directory (testbed.json, known_hosts, id_ed25519 and lab/ go there)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Number of VMs (hosts h0..h<N-1>, one VM h<i>-v0 each)
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub vms: usize,
    #[command(flatten)]
    pub dir: DirArg,
    /// Memory of each VM, MB
    #[arg(long, value_name = "M", default_value_t = 768)]
    pub memory_mb: u32,
    /// Seconds each VM may take to answer SSH
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub boot_timeout_s: u64,
    /// Do not copy this netbalance binary to the VMs now (it is copied on first use)
    #[arg(long)]
    pub no_provision: bool,
}

#[derive(Debug, clap::Args)]
pub struct SshArgs {
    /// The VM, e.g. h0-v0
    pub vm: String,
    #[command(flatten)]
    pub dir: DirArg,
    /// The command and its arguments (each word passed as one argument); none: a login shell
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: Args) -> Result<Status> {
    match args.command {
        LabCommand::Up(a) => {
            let provision = if a.no_provision {
                None
            } else {
                crate::testbed::vnode::default_keeper()
            };
            let lab = crate::lab::up(&crate::lab::UpSettings {
                dir: a.dir.dir,
                vms: a.vms,
                memory_mb: a.memory_mb,
                boot_timeout: Duration::from_secs(a.boot_timeout_s),
                provision,
            })?;
            let status = crate::lab::status(&lab.dir)?.expect("the lab just brought up has a state");
            crate::io::write_json_stdout(&status)?;
            Ok(Status::Done)
        }
        LabCommand::Down(d) => {
            if !crate::lab::down(&d.dir)? {
                crate::info!("netbalance lab: no lab in {}: nothing to do", d.dir.display());
            }
            Ok(Status::Done)
        }
        LabCommand::Status(d) => match crate::lab::status(&d.dir)? {
            None => {
                crate::info!("netbalance lab: no lab in {}", d.dir.display());
                Ok(Status::Negative)
            }
            Some(s) => {
                crate::io::write_json_stdout(&s)?;
                Ok(if s.vms.iter().all(|v| v.running) {
                    Status::Done
                } else {
                    Status::Negative
                })
            }
        },
        LabCommand::Ssh(a) => {
            let cmd = crate::lab::ssh_command(&a.dir.dir, &a.vm, &a.command)?;
            // Replace this process: the terminal, stdout, stderr and exit code are ssh's (the VM's).
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new(&cmd.program).args(&cmd.args).exec();
            Err(Error::Host(format!("running ssh: {err}")))
        }
    }
}
