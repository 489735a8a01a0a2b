//! `netbalance migrate`: bring the testbed from the placement in force (the
//! state dir's, or `--placement`) to the target (stdin, or `--target`),
//! deploying when nothing is in force; print the placement reached (model §7).
//! `--dry-run` prints the plan and touches nothing; `--teardown` stops every
//! vnode in force; `--resume`/`--rollback` take up a crashed run.

use super::Status;
use crate::cli::{ProblemArgs, StateDirArg};
use crate::error::{Error, Result};
use crate::inputs::{read_placement, Problem};
use crate::io::Source;
use crate::migrate::{self, plans, Applied, Direction, Job, StepBar};
use crate::model::Placement;
use crate::state::StateDir;
use crate::testbed::{Paths, SshArgs};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance place --topology waxman.json | netbalance migrate --dry-run\n  netbalance place --topology waxman.json | netbalance migrate          # root; local VMs\n  netbalance migrate --target new.json --state-dir run1/.netbalance\n  netbalance migrate --resume            # take up a migrate that crashed\n  netbalance migrate --teardown"
)]
pub struct Args {
    /// The placement to reach [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,
    /// The placement in force [default: the state dir's]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    #[command(flatten)]
    pub state_dir: StateDirArg,
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// Print the plan (a migration plan, or a deployment plan when nothing is in force) and touch nothing
    #[arg(long, conflicts_with_all = ["resume", "rollback"])]
    pub dry_run: bool,
    /// With --dry-run: also print on stderr every command the migration would run and on which VM (the topology's `run` lines included), touching no host
    #[arg(long, requires = "dry_run")]
    pub commands: bool,
    /// Stop every vnode in force and remove its namespaces and links
    #[arg(long, conflicts_with_all = ["target", "resume", "rollback"])]
    pub teardown: bool,
    /// Finish a migrate that crashed, from the state dir's journal
    #[arg(long, conflicts_with_all = ["target", "placement", "rollback"])]
    pub resume: bool,
    /// Undo a migrate that crashed, from the state dir's journal
    #[arg(long, conflicts_with_all = ["target", "placement"])]
    pub rollback: bool,
    /// Where vnode state (pid, CRIU images) lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    #[command(flatten)]
    pub ssh: SshArgs,
}

enum Mode {
    Apply(Source),
    Teardown,
    Recover(Direction),
}

/// The validated settings of one `migrate` run.
struct Settings {
    mode: Mode,
    /// `--placement`, overriding the state dir's placement in force.
    placement: Option<Source>,
    state: StateDir,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        let placement = args.placement.as_deref().map(Source::from_arg);
        let mode = if args.teardown {
            Mode::Teardown
        } else if args.resume {
            Mode::Recover(Direction::Resume)
        } else if args.rollback {
            Mode::Recover(Direction::Rollback)
        } else {
            Mode::Apply(args.target.as_deref().map(Source::from_arg).unwrap_or(Source::Stdin))
        };
        crate::inputs::at_most_one_stdin(
            &[
                ("--target", args.target.as_deref()),
                ("--placement", args.placement.as_deref()),
            ]
            .into_iter()
            .chain(args.problem.stdin_flags())
            .collect::<Vec<_>>(),
            matches!(mode, Mode::Apply(_)).then_some("--target"),
        )?;
        Ok(Settings {
            mode,
            placement,
            state: StateDir::at(&args.state_dir.state_dir),
        })
    }

    /// The placement in force: `--placement`, else the state dir's; `None`
    /// if nothing is deployed. Read under the lock when not a dry run.
    fn current(&self) -> Result<Option<(Placement, String)>> {
        match &self.placement {
            Some(src) => Ok(Some((read_placement(src)?, src.name()))),
            None => Ok(self
                .state
                .placement()?
                .map(|p| (p, self.state.placement_path().display().to_string()))),
        }
    }
}

/// Topology/testbed fallbacks: flags, then the first placement naming them.
fn problem(args: &Args, placements: &[Option<&Placement>]) -> Result<Problem> {
    let hints = Placement {
        topology: placements.iter().flatten().find_map(|p| p.topology.clone()),
        testbed: placements.iter().flatten().find_map(|p| p.testbed.clone()),
        // relative paths resolve beside the file that named them
        read_from: placements
            .iter()
            .flatten()
            .find(|p| p.topology.is_some() || p.testbed.is_some())
            .and_then(|p| p.read_from.clone()),
        ..Placement::default()
    };
    args.problem.resolve(Some(&hints))
}

pub fn run(args: Args) -> Result<Status> {
    let settings = Settings::resolve(&args)?;
    let progress = StepBar::new(0, "migrate", crate::log::quiet() || args.dry_run);
    let result = match &settings.mode {
        Mode::Apply(target) => apply(&args, &settings, target, &progress),
        Mode::Teardown => teardown(&args, &settings, &progress),
        Mode::Recover(direction) => recover(&args, &settings, *direction, &progress),
    };
    progress.finish();
    result
}

fn apply(args: &Args, settings: &Settings, target_src: &Source, progress: &StepBar) -> Result<Status> {
    let target = read_placement(target_src)?;
    if args.dry_run {
        if let Some(run) = crate::state::Journal::peek_unfinished(&settings.state.journal_path())? {
            if !crate::log::quiet() {
                crate::info!(
                    "netbalance: run {} (pid {}) did not finish: the testbed may not be in the placement in force; take it up with --resume or --rollback first",
                    run.run, run.pid
                );
            }
        }
        let current = settings.current()?;
        let problem = problem(args, &[Some(&target), current.as_ref().map(|c| &c.0)])?;
        let to = problem.assignment(&target, &target_src.name())?;
        match &current {
            None => {
                crate::io::write_json_stdout(&crate::io::rounded(&plans::deployment_plan(&problem.instance, &to))?)?
            }
            Some((cur, name)) => {
                let from = problem.assignment(cur, name)?;
                let plan = crate::cost::plan(&problem.instance, &from, &to);
                if !crate::log::quiet() && !plan.moves.is_empty() {
                    let timed = plan.timed();
                    let ends = migrate::dispatch::Dispatcher::new(&timed, problem.instance.n_vms(), &plan.queues)
                        .simulate(&timed);
                    let planned = plan.moves.iter().map(|m| m.start_s + m.duration_s).fold(0.0, f64::max);
                    crate::info!(
                        "netbalance: {} moves ({}); T_r {:.3} s; the moves end after {ends:.3} s as migrate dispatches them ({planned:.3} s in the plan's order)",
                        plan.moves.len(),
                        problem.instance.mode,
                        plan.estimate.total_s
                    );
                }
                crate::io::write_json_stdout(&crate::io::rounded(&plan.render(&problem.instance))?)?;
            }
        }
        if args.commands {
            let from = match &current {
                Some((cur, name)) => Some(problem.assignment(cur, name)?),
                None => None,
            };
            show_commands(args, &problem, current.as_ref().map(|c| &c.0), from.as_deref(), &to)?;
        }
        return Ok(Status::Done);
    }
    let state = StateDir::open(settings.state.path())?;
    let lock = state.lock()?;
    let current = settings.current()?;
    let problem = problem(args, &[Some(&target), current.as_ref().map(|c| &c.0)])?;
    let to = problem.assignment(&target, &target_src.name())?;
    let from = current
        .as_ref()
        .map(|(p, name)| problem.assignment(p, name))
        .transpose()?;
    if from.as_deref().is_some_and(|f| f != to.as_slice()) {
        super::check_host_mode("migrate", problem.instance.mode, &problem.testbed)?;
    }
    let driver = driver(args, &problem, current.as_ref().map(|c| &c.0))?;
    let job = Job {
        problem: &problem,
        driver: driver.as_ref(),
        state: &state,
        lock: &lock,
        progress,
    };
    let applied = job.apply(from.as_deref(), &to);
    for t in driver.measured() {
        crate::debug!("netbalance: {}", t.summary());
    }
    finish(applied?, &state)
}

fn teardown(args: &Args, settings: &Settings, progress: &StepBar) -> Result<Status> {
    let state = if args.dry_run {
        settings.state.clone()
    } else {
        StateDir::open(settings.state.path())?
    };
    let lock = if args.dry_run { None } else { Some(state.lock()?) };
    let Some((current, name)) = settings.current()? else {
        progress.log(&format!(
            "nothing in force in {}: nothing to tear down",
            state.path().display()
        ));
        crate::io::write_json_stdout(&Placement::default())?;
        return Ok(Status::Done);
    };
    let problem = problem(args, &[Some(&current)])?;
    let from = problem.assignment(&current, &name)?;
    let Some(lock) = lock else {
        crate::io::write_json_stdout(&crate::io::rounded(&plans::teardown_plan(&problem.instance, &from))?)?;
        return Ok(Status::Done);
    };
    let driver = driver(args, &problem, Some(&current))?;
    let job = Job {
        problem: &problem,
        driver: driver.as_ref(),
        state: &state,
        lock: &lock,
        progress,
    };
    finish(job.teardown(&from)?, &state)
}

fn recover(args: &Args, settings: &Settings, direction: Direction, progress: &StepBar) -> Result<Status> {
    let state = StateDir::open(settings.state.path())?;
    let lock = state.lock()?;
    let journal = state.journal()?;
    let Some(run) = journal.unfinished() else {
        return Err(Error::usage(format!(
            "{}: no unfinished run to take up (nothing to resume or roll back)",
            journal.path().display()
        )));
    };
    drop(journal);
    let problem = problem(args, &[run.to.as_ref(), run.from.as_ref()])?;
    let driver = driver(args, &problem, run.from.as_ref())?;
    let job = Job {
        problem: &problem,
        driver: driver.as_ref(),
        state: &state,
        lock: &lock,
        progress,
    };
    finish(job.recover(direction)?, &state)
}

/// The driver reaching the VMs of `problem`, with `current` in force.
/// `--dry-run --commands`: run the migrate engine with executors that only
/// record (one per VM, as a real run would address it) and a scratch state
/// dir, then print every recorded command, `VM: command`, on stderr.
fn show_commands(
    args: &Args,
    problem: &Problem,
    current: Option<&Placement>,
    from: Option<&[u32]>,
    to: &[u32],
) -> Result<()> {
    let paths = Paths {
        state_root: args.state_root.clone(),
        ..Paths::default()
    };
    let (fleet, log) = crate::testbed::Fleet::dry_run(&problem.testbed, paths);
    let driver = migrate::testbed_driver::TestbedDriver::new(fleet, &problem.topology, current)?
        .with_mode(problem.instance.mode, problem.instance.costs.pre_copy);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let scratch = std::env::temp_dir().join(format!("netbalance-dry-run-{}-{nanos}", std::process::id()));
    let result = (|| {
        let state = StateDir::open(&scratch)?;
        let lock = state.lock()?;
        let progress = StepBar::new(0, "dry run", true);
        let job = Job {
            problem,
            driver: &driver,
            state: &state,
            lock: &lock,
            progress: &progress,
        };
        job.apply(from, to)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let applied = result?;
    let lines = log.lock().unwrap_or_else(|p| p.into_inner());
    let mut err = std::io::stderr().lock();
    use std::io::Write;
    for line in lines.iter() {
        let _ = writeln!(err, "netbalance: would run on {}", crate::error::escape(line));
    }
    if !applied.complete {
        // A dry run has no running vnodes: a live migration's checkpoint
        // finds no process, and the engine's undo is what is listed after it.
        let _ = writeln!(
            err,
            "netbalance: the recorded run stopped at: {} (a dry run has no running vnodes: the commands after this step are its undo, not the rest of the migration)",
            crate::error::escape(&applied.failures.join("; "))
        );
    }
    Ok(())
}

fn driver(args: &Args, problem: &Problem, current: Option<&Placement>) -> Result<Box<dyn migrate::VnodeDriver>> {
    let paths = Paths {
        state_root: args.state_root.clone(),
        ..Paths::default()
    };
    migrate::driver_for(problem, current, args.ssh.options(&problem.testbed), paths)
}

/// Print the placement reached (an empty one if nothing is deployed); exit 3
/// if a failure kept the plan from being done.
fn finish(applied: Applied, state: &StateDir) -> Result<Status> {
    crate::io::write_json_stdout(applied.placement.as_ref().unwrap_or(&Placement::default()))?;
    applied.into_result(state).map(|_| Status::Done)
}
