//! `netbalance place`: an initial placement (minimise τ), or with
//! `--placement` a re-placement (minimise χ from the current placement);
//! prints a Placement JSON with `tau`, `chi` and the files it was made for.

use super::Status;
use crate::cli::{ProblemArgs, SeedArg, WindowArgs};
use crate::cost::Window;
use crate::error::{Error, Result};
use crate::inputs::{read_placement, Problem};
use crate::io::Source;
use crate::place::{self, Budget, Constraints, PlaceOptions, SearchProgress};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance place --topology waxman.json | netbalance cost\n  netbalance place --topology waxman.json --budget 10 --pin n0=h0-v0 --forbid h7-v7 > placement.json\n  netbalance place --placement cur.json --load loads.ndjson --tp 10 --budget 1 --max-moves 20\n  netbalance monitor --interval 1 | netbalance predict | netbalance place --placement cur.json\n\nExit status: 0 a placement was printed; 1 (with --placement) no re-placement with χ < 0 was found and the current placement is printed unchanged; 2 bad input or usage."
)]
pub struct Args {
    /// The current placement φ: re-place from it (minimise χ) [default: none, initial placement]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    /// Load snapshots (NDJSON; the last one is the prediction) [default: stdin when piped, else the topology's expected load]
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// Prediction window T_p, seconds
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub tp: f64,
    /// Optimisation budget T_o, seconds of wall clock (also the T_o of χ)
    #[arg(long, visible_alias = "to", value_name = "S", default_value_t = 1.0)]
    pub budget: f64,
    /// Stop after N moves evaluated instead of at the time budget (same seed: same output)
    #[arg(long, value_name = "N")]
    pub moves: Option<u64>,
    #[command(flatten)]
    pub seed: SeedArg,
    /// Run VNODE on VM (repeatable)
    #[arg(long, value_name = "VNODE=VM")]
    pub pin: Vec<String>,
    /// Place no vnode on VM (repeatable)
    #[arg(long, value_name = "VM")]
    pub forbid: Vec<String>,
    /// Re-placement: migrate at most N vnodes
    #[arg(long, value_name = "N")]
    pub max_moves: Option<usize>,
}

/// The validated settings of one `place` run.
struct Settings {
    placement: Option<Source>,
    window: Window,
    budget: Budget,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        let window = WindowArgs {
            tp: args.tp,
            to: args.budget,
        }
        .resolve()?;
        let placement = args.placement.as_deref().map(Source::from_arg);
        let load_is_stdin = args.load.as_deref().is_some_and(|p| p.as_os_str() == "-");
        if load_is_stdin && placement == Some(Source::Stdin) {
            return Err(Error::usage(
                "only one input can come from stdin (give --placement or --load a file)",
            ));
        }
        let budget = match args.moves {
            Some(n) => Budget::Moves(n),
            None => Budget::Time(
                Duration::try_from_secs_f64(window.to)
                    .map_err(|_| Error::usage(format!("--budget {:?}: not a usable number of seconds", window.to)))?,
            ),
        };
        Ok(Settings {
            placement,
            window,
            budget,
        })
    }
}

/// Turn `--pin`, `--forbid` and `--max-moves` into indices.
fn constraints(args: &Args, problem: &Problem) -> Result<Constraints> {
    let inst = &problem.instance;
    let mut c = Constraints {
        max_moves: args.max_moves,
        ..Constraints::default()
    };
    let vm = |name: &str, flag: &str| {
        inst.vm(name)
            .ok_or_else(|| Error::usage(format!("{flag}: no VM {name:?} in {:?}", problem.testbed_path)))
    };
    if !args.forbid.is_empty() {
        c.forbidden = vec![false; inst.n_vms()];
        for name in &args.forbid {
            c.forbidden[vm(name, "--forbid")? as usize] = true;
        }
    }
    if !args.pin.is_empty() {
        c.pinned = vec![None; inst.n_vnodes()];
        for pin in &args.pin {
            let (node, to) = pin
                .split_once('=')
                .ok_or_else(|| Error::usage(format!("--pin {pin:?}: expected VNODE=VM")))?;
            let n = inst.vnode(node).ok_or_else(|| {
                Error::usage(format!(
                    "--pin {pin:?}: no vnode {node:?} in {:?}",
                    problem.topology_path
                ))
            })?;
            if c.pinned[n as usize].is_some() {
                return Err(Error::usage(format!(
                    "--pin {pin:?}: vnode {node:?} is pinned twice (one --pin per vnode)"
                )));
            }
            c.pinned[n as usize] = Some(vm(to, "--pin")?);
        }
    }
    c.check(inst)
        .map_err(|m| Error::usage(format!("--pin/--forbid: {m}")))?;
    Ok(c)
}

pub fn run(args: Args) -> Result<Status> {
    let settings = Settings::resolve(&args)?;
    let current = settings.placement.as_ref().map(read_placement).transpose()?;
    let problem = args.problem.resolve(current.as_ref())?;
    let current = match (&current, &settings.placement) {
        (Some(p), Some(src)) => Some(problem.assignment(p, &src.name())?),
        _ => None,
    };
    let stdin_free = settings.placement != Some(Source::Stdin);
    let (load, load_label) = problem.load(args.load.as_deref(), stdin_free)?;
    let opts = PlaceOptions {
        budget: settings.budget,
        seed: args.seed.seed,
        constraints: constraints(&args, &problem)?,
    };
    let inst = &problem.instance;
    let bar = progress_bar(settings.budget);
    let mut report = |p: &SearchProgress| {
        if let Some(bar) = &bar {
            bar.set_position((p.fraction * 1000.0) as u64);
            bar.set_message(format!("τ {:.4}  moves {}", p.best_tau, p.moves_evaluated));
        }
    };
    crate::info!(
        "netbalance place: {} vnodes on {} VMs, load: {load_label}",
        inst.n_vnodes(),
        inst.n_vms()
    );
    let outcome = match &current {
        None => place::initial_with_progress(inst, &load, &opts, &mut report),
        Some(cur) => place::replace_with_progress(inst, &load, settings.window, cur, &opts, &mut report),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut placement = problem.placement_of(&outcome.assignment);
    placement.tau = Some(outcome.tau);
    placement.chi = outcome.chi;
    crate::io::write_json_stdout(&crate::io::rounded(&placement)?)?;
    crate::info!(
        "netbalance place: tau {:.6}{}, {} moves evaluated",
        outcome.tau,
        outcome.chi.map(|c| format!(", chi {c:.6}")).unwrap_or_default(),
        outcome.moves_evaluated
    );
    if current.is_some() && !outcome.changed {
        crate::info!(
            "netbalance place: no beneficial re-placement (χ < 0 not found); the current placement is unchanged"
        );
        return Ok(Status::Negative);
    }
    Ok(Status::Done)
}

/// A bar on stderr for time budgets over a second (hidden when stderr is
/// not a terminal).
fn progress_bar(budget: Budget) -> Option<indicatif::ProgressBar> {
    match budget {
        Budget::Time(d) if d > Duration::from_secs(1) => {
            let bar = indicatif::ProgressBar::with_draw_target(Some(1000), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {elapsed}/{duration} {msg}") {
                bar.set_style(style);
            }
            Some(bar)
        }
        _ => None,
    }
}
