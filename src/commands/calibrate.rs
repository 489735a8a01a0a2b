//! `netbalance calibrate`: measure the migration phases on the real testbed
//! and print a costs profile (model §3) for `--costs`.

use super::Status;
use crate::cli::{CostsArg, MigrationArg, StateDirArg, TestbedArg};
use crate::error::{Error, Result};
use crate::inputs::{resolve_costs, resolve_testbed};
use crate::migrate::calibrate::{calibrate, pairs_of};
use crate::model::MigrationMode;
use crate::state::StateDir;
use crate::testbed::{precopy, Fleet, Paths, SshArgs};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sudo netbalance calibrate > costs.json\n  sudo netbalance calibrate --sizes-mb 4,64 --repeats 3 --report phases.json > costs.json\n  sudo netbalance calibrate --sizes-mb 8,64,256 --accept-new -i ~/.ssh/id_ed25519 > costs.json\n  netbalance calibrate --testbed /tmp/lab/testbed.json --migration pre-copy --sizes-mb 16 > costs.json\n  netbalance cost --costs costs.json --placement cur.json --target new.json"
)]
pub struct Args {
    #[command(flatten)]
    pub testbed: TestbedArg,
    #[command(flatten)]
    pub costs: CostsArg,
    #[command(flatten)]
    pub migration: MigrationArg,
    /// Memory of the probe vnodes, MB (one migration per size and VM pair)
    #[arg(long, value_name = "MB,...", value_delimiter = ',', default_value = "8,64")]
    pub sizes_mb: Vec<f64>,
    /// Migrations per size and pair (the fastest counts)
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub repeats: usize,
    /// Where vnode state lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    /// Also write each phase apart, beside the paper's Table 1, as JSON to FILE (the same table goes to stderr)
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The criu binary on the VMs
    #[arg(long, value_name = "PATH", default_value = "criu")]
    pub criu: String,
    // The probe moves are journalled in DIR/calibrate (as `migrate` journals
    // its moves), apart from the placement in force of an experiment.
    #[command(flatten)]
    pub state_dir: StateDirArg,
    #[command(flatten)]
    pub ssh: SshArgs,
}

pub fn run(args: Args) -> Result<Status> {
    if args.sizes_mb.is_empty()
        || args
            .sizes_mb
            .iter()
            .any(|m| !(m.is_finite() && *m > 0.0 && *m <= 65536.0))
    {
        return Err(Error::usage("--sizes-mb: give sizes in MB, each > 0 and <= 65536"));
    }
    let (mut testbed, _) = resolve_testbed(args.testbed.testbed.as_deref(), None)?;
    let mode = args.migration.resolve(Some(&testbed));
    super::check_host_mode("calibrate", mode, &testbed)?;
    // Stop-and-copy is always measured; post-copy or pre-copy besides, when asked for.
    testbed.migration = Some(mode);
    let base = resolve_costs(args.costs.costs.as_deref(), &testbed)?;
    let paths = Paths {
        state_root: args.state_root.clone(),
        criu: args.criu.clone(),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, args.ssh.options(&testbed), paths);
    if mode == MigrationMode::PreCopy {
        // Before the stop-and-copy probes, not minutes later; each VM once.
        let vms: std::collections::BTreeSet<String> = pairs_of(&testbed)
            .into_iter()
            .flat_map(|(from, to, _)| [from, to])
            .collect();
        let paths = fleet.paths.clone();
        for vm in vms {
            precopy::require(fleet.exec(&vm)?, &paths)?;
        }
    }
    let state = StateDir::open(args.state_dir.state_dir.join("calibrate"))?;
    let cal = calibrate(&mut fleet, &testbed, &args.sizes_mb, args.repeats, &base, &state)?;
    for p in &cal.pairs {
        for r in &p.runs {
            crate::info!(
                "calibrate: {} {}->{}: {:.1} MB image, suspend {:.1} ms, snapshot {:.1} ms, reap {:.1} ms, transfer {:.1} ms ({}), reattach {:.1} ms, restore {:.1} ms, resume {:.1} ms",
                p.class,
                p.from,
                p.to,
                r.image_bytes as f64 / 1048576.0,
                r.suspend_s * 1e3,
                r.snapshot_s * 1e3,
                r.reap_s * 1e3,
                r.transfer_s * 1e3,
                r.transfer_via.name(),
                r.reattach_s * 1e3,
                r.restore_s * 1e3,
                r.resume_s * 1e3
            );
        }
    }
    if !crate::log::quiet() {
        eprint!(
            "calibrate: each phase apart (fixed parts are per move; the profile calls them checkpoint_ms):\n{}",
            cal.breakdown.table()
        );
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(
            &serde_json::json!({ "breakdown": cal.breakdown, "pairs": cal.pairs, "costs": cal.costs }),
        )
        .map_err(|e| Error::host_op("calibrate", "--report: encoding the report", e))?;
        crate::io::write_atomic(path, &json)?;
    }
    crate::io::write_json_stdout(&cal.costs)?;
    Ok(Status::Done)
}
