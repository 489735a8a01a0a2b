//! `netbalance cost`: τ of a placement with its per-VM and per-host
//! breakdown; with `--target`, also T_r (by phase and VM) and χ.

use super::Status;
use crate::cli::{ProblemArgs, WindowArgs};
use crate::cost::{self, TauReport, Window};
use crate::error::Result;
use crate::inputs::{at_most_one_stdin, read_placement};
use crate::io::Source;
use crate::model::{MigrationMode, MigrationPlan};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance place --topology waxman.json | netbalance cost\n  netbalance cost --placement cur.json --target new.json --tp 10 --to 1 --human\n  netbalance cost --placement cur.json --load loads.ndjson"
)]
pub struct Args {
    /// The current placement φ [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    /// A proposed placement φ′: adds T_r and χ
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,
    /// Load snapshots (NDJSON; the last one is used) [default: the topology's expected load]
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub problem: ProblemArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Print a table for people instead of JSON
    #[arg(long)]
    pub human: bool,
}

/// The validated settings of one `cost` run.
struct Settings {
    placement: Source,
    target: Option<Source>,
    window: Window,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        let placement = args.placement.as_deref().map(Source::from_arg).unwrap_or(Source::Stdin);
        let target = args.target.as_deref().map(Source::from_arg);
        at_most_one_stdin(
            &[
                ("--placement", args.placement.as_deref()),
                ("--target", args.target.as_deref()),
                ("--load", args.load.as_deref()),
            ]
            .into_iter()
            .chain(args.problem.stdin_flags())
            .collect::<Vec<_>>(),
            Some("--placement"),
        )?;
        Ok(Settings {
            placement,
            target,
            window: args.window.resolve()?,
        })
    }
}

/// What `cost` prints with `--target`.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub current: TauReport,
    pub target: TauReport,
    pub plan: MigrationPlan,
    /// The mode the moves are priced in (model §3.1).
    pub migration: MigrationMode,
    pub t_r: f64,
    pub tp: f64,
    pub to: f64,
    pub chi: f64,
    /// χ < 0: the re-placement shortens the experiment.
    pub beneficial: bool,
}

pub fn run(args: Args) -> Result<Status> {
    let settings = Settings::resolve(&args)?;
    let placement = read_placement(&settings.placement)?;
    let problem = args.problem.resolve(Some(&placement))?;
    let from = problem.assignment(&placement, &settings.placement.name())?;
    let (load, _) = problem.load(args.load.as_deref(), false)?;
    let inst = &problem.instance;
    let current = cost::report(inst, &load, &from);
    let Some(target_src) = &settings.target else {
        if args.human {
            crate::io::write_text_stdout(&human_tau(&current))?;
        } else {
            crate::io::write_json_stdout(&crate::io::rounded(&current)?)?;
        }
        return Ok(Status::Done);
    };
    let target_placement = read_placement(target_src)?;
    let to = problem.assignment(&target_placement, &target_src.name())?;
    let target = cost::report(inst, &load, &to);
    let plan = cost::plan(inst, &from, &to).render(inst);
    let t_r = plan.estimate.total_s;
    let chi = cost::chi(settings.window, current.tau, target.tau, t_r);
    let cmp = Comparison {
        current,
        target,
        plan,
        migration: inst.mode,
        t_r,
        tp: settings.window.tp,
        to: settings.window.to,
        chi,
        beneficial: chi < 0.0,
    };
    if args.human {
        crate::io::write_text_stdout(&human_comparison(&cmp))?;
    } else {
        crate::io::write_json_stdout(&crate::io::rounded(&cmp)?)?;
    }
    Ok(Status::Done)
}

fn human_tau(r: &TauReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "tau {:.6}  (bottleneck: {} {}, utilisation {:.4})",
        r.tau, r.bottleneck.kind, r.bottleneck.name, r.bottleneck.utilisation
    );
    let _ = writeln!(
        s,
        "{:<16} {:<10} {:>7} {:>12} {:>9} {:>8}",
        "VM", "HOST", "VNODES", "LOAD", "CAPACITY", "UTIL"
    );
    for vm in &r.vms {
        let _ = writeln!(
            s,
            "{:<16} {:<10} {:>7} {:>12.6} {:>9.3} {:>8.4}",
            vm.name, vm.host, vm.vnodes, vm.load, vm.capacity, vm.utilisation
        );
    }
    let _ = writeln!(
        s,
        "{:<16} {:>14} {:>12} {:>8}",
        "HOST", "NIC MBIT/S", "NIC MBPS", "UTIL"
    );
    for h in &r.hosts {
        let _ = writeln!(
            s,
            "{:<16} {:>14.3} {:>12.1} {:>8.4}",
            h.name, h.nic_mbit, h.nic_mbps, h.utilisation
        );
    }
    s
}

fn human_comparison(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "current:");
    s.push_str(&human_tau(&c.current));
    let _ = writeln!(s, "\ntarget:");
    s.push_str(&human_tau(&c.target));
    let p = &c.plan.estimate.by_phase;
    let _ = writeln!(
        s,
        "\nmoves {} ({})  T_r {:.4} s (critical VM {})",
        c.plan.moves.len(),
        c.migration,
        c.t_r,
        c.plan.estimate.critical_vm.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "  suspend {:.4}  snapshot {:.4}  transfer {:.4}  restore {:.4}  reattach {:.4}  resume {:.4}",
        p.suspend_s, p.snapshot_s, p.transfer_s, p.restore_s, p.reattach_s, p.resume_s
    );
    if c.plan.estimate.live_s > 0.0 {
        let _ = writeln!(
            s,
            "  lost while running {:.4} (post-copy page faults, pre-copy rounds)",
            c.plan.estimate.live_s
        );
    }
    let _ = writeln!(
        s,
        "chi {:.6} (T_p {} s, T_o {} s): {}",
        c.chi,
        c.tp,
        c.to,
        if c.beneficial {
            "re-placement pays"
        } else {
            "keep the current placement"
        }
    );
    s
}
