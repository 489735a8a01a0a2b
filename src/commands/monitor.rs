//! `netbalance monitor`: sample the deployed vnodes' CPU and link traffic and
//! write one load snapshot (model §1) per interval as NDJSON.

use super::Status;
use crate::cli::{StateDirArg, TestbedArg, TopologyArg};
use crate::error::{Error, Result};
use crate::inputs::{read_placement, resolve_testbed, resolve_topology};
use crate::io::Source;
use crate::testbed::monitor::{sample_with, snapshot, DirtyProbe};
use crate::testbed::{Fleet, Layout, Paths, SshArgs};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sudo netbalance monitor --interval 1 | netbalance predict | netbalance place --placement cur.json\n  sudo netbalance monitor --placement cur.json --count 10 > load.ndjson\n  netbalance monitor --dirty --interval 2 --count 5 > load.ndjson   # with each vnode's dirty_mb_s"
)]
pub struct Args {
    /// Seconds between snapshots (real time)
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub interval: f64,
    /// Stop after this many snapshots [default: run until interrupted]
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// The time dilation factor τ in force (real seconds per virtual second): rates are per virtual second
    #[arg(long, value_name = "TAU", default_value_t = 1.0)]
    pub dilation: f64,
    /// The placement in force [default: <state-dir>/placement.json]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    #[command(flatten)]
    pub topology: TopologyArg,
    #[command(flatten)]
    pub testbed: TestbedArg,
    #[command(flatten)]
    pub state_dir: StateDirArg,
    /// Also measure each vnode's dirty rate (MB/s) from the kernel's soft-dirty bits, where the VMs track them ("dirty_mb_s")
    #[arg(long)]
    pub dirty: bool,
    /// Where vnode state lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    #[command(flatten)]
    pub ssh: SshArgs,
}

pub fn run(args: Args) -> Result<Status> {
    crate::limits::seconds("--interval", args.interval, crate::limits::MIN_TP_S, false)?;
    crate::limits::real("--dilation", args.dilation, 1e-6, 1e6)?;
    // Without --placement: the state dir's placement in force, read through
    // its checks (no symlink, FIFO or foreign file; checksum).
    let placement = match &args.placement {
        Some(file) => read_placement(&Source::from_arg(file))?,
        None => {
            let state = crate::state::StateDir::at(&args.state_dir.state_dir);
            state.placement()?.ok_or_else(|| {
                Error::usage(format!(
                    "nothing deployed in {:?} (pass --placement FILE or --state-dir DIR)",
                    args.state_dir.state_dir
                ))
            })?
        }
    };
    let (topology, _) = resolve_topology(args.topology.topology.as_deref(), Some(&placement))?;
    let (testbed, _) = resolve_testbed(args.testbed.testbed.as_deref(), Some(&placement))?;
    let layout = Layout::new(&topology)?;
    let paths = Paths {
        state_root: args.state_root.clone(),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, args.ssh.options(&testbed), paths);
    let stdout = std::io::stdout();
    let mut probe = args.dirty.then(DirtyProbe::default);
    let mut prev = sample_with(&mut fleet, &layout, &placement, probe.as_mut())?;
    let start = prev.at;
    let mut n = 0u64;
    let mut t_virtual = 0.0;
    while args.count.map_or(true, |c| n < c) {
        let next = start + crate::limits::duration("--interval", args.interval * (n + 1) as f64)?;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let cur = sample_with(&mut fleet, &layout, &placement, probe.as_mut())?;
        t_virtual += cur.at.duration_since(prev.at).as_secs_f64() / args.dilation;
        let snap = snapshot(&prev, &cur, &layout, t_virtual, args.dilation);
        let mut out = stdout.lock();
        crate::io::write_ndjson_line(&mut out, &snap)?;
        out.flush().map_err(|e| Error::io("<stdout>", e))?;
        prev = cur;
        n += 1;
    }
    Ok(Status::Done)
}
