//! `netbalance migrate`: bring the testbed from the placement in force to a
//! target placement (SPEC §7): deploy when nothing is in force, live-migrate
//! the vnodes that move, or tear everything down. The placement reached is
//! printed and recorded in the state dir with a journal of every move.

use super::Status;
use crate::cli::{CostsArg, StateDirArg, TestbedArg, TopologyArg};
use crate::error::{Error, Result};
use crate::inputs::{read_placement, Problem};
use crate::io::Source;
use crate::model::Placement;
use crate::testbed::{deploy, execute, teardown, Fleet, Layout, Paths, SshArgs};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  netbalance place --topology waxman.json | netbalance migrate --dry-run\n  netbalance place --topology waxman.json | sudo netbalance migrate      # local VMs: namespaces here\n  sudo netbalance migrate --target new.json --accept-new -i ~/.ssh/id_ed25519\n  sudo netbalance migrate --teardown")]
pub struct Args {
    /// The target placement φ′ [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,
    /// The placement in force [default: <state-dir>/placement.json; none: deploy]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    #[command(flatten)]
    pub topology: TopologyArg,
    #[command(flatten)]
    pub testbed: TestbedArg,
    #[command(flatten)]
    pub costs: CostsArg,
    #[command(flatten)]
    pub state_dir: StateDirArg,
    /// Print the plan (JSON) and the commands it would run (stderr); touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Stop every vnode in force and remove its namespaces, links and cgroups
    #[arg(long, conflicts_with = "target")]
    pub teardown: bool,
    /// Where vnode state lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    /// The criu binary on the VMs
    #[arg(long, value_name = "PATH", default_value = "criu")]
    pub criu: String,
    #[command(flatten)]
    pub ssh: SshArgs,
}

fn in_force_path(args: &Args) -> PathBuf {
    args.placement.clone().unwrap_or_else(|| args.state_dir.state_dir.join("placement.json"))
}

fn journal(state_dir: &Path, record: &impl Serialize) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir.display().to_string(), e))?;
    let p = state_dir.join("journal.ndjson");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
    crate::io::write_ndjson_line(&mut f, record)?;
    f.flush().map_err(|e| Error::io(p.display().to_string(), e))
}

fn record_in_force(state_dir: &Path, p: &Placement) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir.display().to_string(), e))?;
    let text = serde_json::to_string_pretty(p).map_err(|e| Error::Host(e.to_string()))?;
    crate::io::write_atomic(&state_dir.join("placement.json"), text.as_bytes())
}

#[derive(Serialize)]
struct Entry<'a, T: Serialize> {
    event: &'a str,
    unix_s: f64,
    #[serde(flatten)]
    data: T,
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

pub fn run(args: Args) -> Result<Status> {
    let state_dir = args.state_dir.state_dir.clone();
    let force_file = in_force_path(&args);
    let in_force = if force_file.exists() { Some(read_placement(&Source::from_arg(&force_file))?) } else { None };
    let paths = Paths { state_root: args.state_root.clone(), criu: args.criu.clone(), ..Paths::default() };

    if args.teardown {
        let cur = in_force.ok_or_else(|| Error::usage(format!("nothing in force ({} does not exist)", force_file.display())))?;
        let problem = Problem::resolve(args.topology.topology.as_deref(), args.testbed.testbed.as_deref(), args.costs.costs.as_deref(), Some(&cur))?;
        problem.assignment(&cur, &force_file.display().to_string())?;
        let layout = Layout::new(&problem.topology)?;
        if args.dry_run {
            let (mut fleet, log) = Fleet::dry_run(&problem.testbed, paths);
            teardown(&mut fleet, &layout, &cur)?;
            print_log(&log);
            return Ok(Status::Done);
        }
        let mut fleet = Fleet::new(&problem.testbed, args.ssh.options(&problem.testbed), paths);
        teardown(&mut fleet, &layout, &cur)?;
        journal(&state_dir, &Entry { event: "teardown", unix_s: now(), data: &cur })?;
        let _ = std::fs::remove_file(state_dir.join("placement.json"));
        crate::io::write_json_stdout(&cur)?;
        return Ok(Status::Done);
    }

    let target_src = args.target.as_deref().map(Source::from_arg).unwrap_or(Source::Stdin);
    let target = read_placement(&target_src)?;
    let problem = Problem::resolve(args.topology.topology.as_deref(), args.testbed.testbed.as_deref(), args.costs.costs.as_deref(), Some(&target))?;
    let to = problem.assignment(&target, &target_src.name())?;
    let layout = Layout::new(&problem.topology)?;
    if let Some(cur) = &in_force {
        problem.assignment(cur, &force_file.display().to_string())?;
    }

    if args.dry_run {
        let plan = match &in_force {
            Some(cur) => crate::cost::migration::plan(&problem.instance, &problem.instance.assignment(cur), &to),
            None => Default::default(),
        };
        let (mut fleet, log) = Fleet::dry_run(&problem.testbed, paths);
        match &in_force {
            None => {
                eprintln!("netbalance migrate: nothing in force ({}): would deploy {} vnodes", force_file.display(), target.vm_of.len());
                deploy(&mut fleet, &layout, &target)?;
            }
            Some(cur) => {
                execute(&mut fleet, &layout, cur, &target).1?;
            }
        }
        print_log(&log);
        crate::io::write_json_stdout(&plan)?;
        return Ok(Status::Done);
    }

    let mut fleet = Fleet::new(&problem.testbed, args.ssh.options(&problem.testbed), paths);
    let reached = match &in_force {
        None => {
            let report = deploy(&mut fleet, &layout, &target)?;
            eprintln!(
                "netbalance migrate: deployed {} vnodes ({} veth, {} VXLAN links) in {:.2} s{}",
                report.vnodes,
                report.veth_links,
                report.vxlan_links,
                report.wall_s,
                if report.delay_not_applied > 0 {
                    format!("; link delay not emulated on {} links (no netem)", report.delay_not_applied)
                } else {
                    String::new()
                }
            );
            journal(&state_dir, &Entry { event: "deploy", unix_s: now(), data: &target })?;
            target.clone()
        }
        Some(cur) => {
            let (report, result) = execute(&mut fleet, &layout, cur, &target);
            for m in &report.migrations {
                journal(&state_dir, &Entry { event: "migration", unix_s: now(), data: m })?;
            }
            if let Err(e) = result {
                let mut reached = report.reached.clone();
                reached.topology = target.topology.clone().or(cur.topology.clone());
                reached.testbed = target.testbed.clone().or(cur.testbed.clone());
                record_in_force(&state_dir, &reached)?;
                journal(&state_dir, &Entry { event: "failed", unix_s: now(), data: serde_json::json!({ "error": e.to_string() }) })?;
                return Err(e);
            }
            eprintln!("netbalance migrate: {} moves in {:.2} s", report.migrations.len(), report.wall_s);
            target.clone()
        }
    };
    record_in_force(&state_dir, &reached)?;
    crate::io::write_json_stdout(&reached)?;
    Ok(Status::Done)
}

fn print_log(log: &std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    for line in log.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        eprintln!("{line}");
    }
}
