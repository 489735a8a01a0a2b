//! `netbalance balance`: the closed loop. Every window of T_p
//! seconds: latest load → placer (budget T_o) → χ → migrate when χ < 0.
//! `--replay` drives it from a recorded load stream and touches no host.
//! The loop itself is [`crate::balance`]; this file parses and wires it.

use super::Status;
use crate::balance::report;
use crate::balance::{
    signal, BalanceState, Balancer, Config, Decision, FakeClock, Forecast, LastValue, Limits, LoadSource, LogLine,
    MigrateActuator, MonitorSource, Output, Placer, Position, Predictor, RealClock, ReplaySource, RunMode, RunOf,
    SavedState, StopCause, StreamSource, Summary, TauPoint, WhatIf, WindowRecord,
};
use crate::cli::{PredictorArgs, PredictorKind, ProblemArgs, SeedArg, StateDirArg, WindowArgs};
use crate::cost::Window;
use crate::error::{Error, Location, Result};
use crate::inputs::{at_most_one_stdin, read_placement, Problem};
use crate::io::Source;
use crate::limits;
use crate::migrate::{self, Job};
use crate::place::Budget;
use crate::predict::Method;
use crate::state::{StateDir, StateLock};
use crate::testbed::{Fleet, Paths, SshArgs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance balance --replay loads.ndjson --topology grid.json --placement cur.json --moves 20000 --report tau.svg\n  netbalance balance --replay loads.ndjson --max-moves 10 --min-gain 0.05 --windows 30\n  sudo netbalance balance --duration 600 --report tau.svg      # live: sample the testbed, migrate\n  netbalance monitor | netbalance balance --load -            # live, load from a stream\n\n\
stdout: one NDJSON record per window ({\"type\":\"window\",...}: τ now, τ predicted after, T_r, χ, moves, decision and reason), then {\"type\":\"summary\",...}; stderr: a live status line.\n\n\
The state dir keeps the window counter and the placement in force: run the same command again to continue where it stopped. Live, the placement in force is the state dir's (deploy first: netbalance place ... | netbalance migrate).\n\n\
SIGINT/SIGTERM: finish the migration in flight, write the state, print the summary (a second one ends at once)."
)]
pub struct Args {
    /// What-if: drive the loop from a recorded load stream (NDJSON, `-` for stdin); touches no host
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Monitor sampling interval, seconds (with --replay: how long the last sample stands)
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub interval: f64,
    #[command(flatten)]
    pub window: WindowArgs,
    /// How the window's load is predicted from the samples
    #[command(flatten)]
    pub predictor: PredictorArgs,
    /// Search each window for N moves instead of T_o of wall clock (same seed: same log)
    #[arg(long, value_name = "N")]
    pub moves: Option<u64>,
    /// Migrate at most N vnodes per window
    #[arg(long, value_name = "N")]
    pub max_moves: Option<usize>,
    /// Re-place only if it saves at least this fraction of the window's rest (−χ / ((T_p − T_o)·τ))
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub min_gain: f64,
    /// Stop after N windows
    #[arg(long, value_name = "N")]
    pub windows: Option<u64>,
    /// Stop after S seconds (with --replay: seconds of the recorded stream)
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// The placement in force at the start [default: the state dir's, else an initial placement for the first load]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    #[command(flatten)]
    pub problem: ProblemArgs,
    #[command(flatten)]
    pub state_dir: StateDirArg,
    #[command(flatten)]
    pub seed: SeedArg,
    /// Live: take load snapshots from this NDJSON stream (`-`: stdin, e.g. from `netbalance monitor`) instead of sampling the testbed
    #[arg(long, value_name = "FILE", conflicts_with = "replay", alias = "loads")]
    pub load: Option<PathBuf>,
    /// Live: where vnode state (pid, CRIU images) lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Write a plot of τ over time (.svg, .png or .pdf by FILE's extension) and print a table of the windows on stderr
    #[arg(long, value_name = "FILE.svg")]
    pub report: Option<PathBuf>,
    /// Start over: forget the run saved in the state dir (a finished what-if run is otherwise refused)
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub plot: crate::cli::PlotArgs,
}

/// The validated settings of one `balance` run.
struct Settings {
    /// `Some`: what-if from a recorded stream; `None`: live.
    replay: Option<Source>,
    /// Live: a stream of snapshots instead of sampling the testbed.
    loads: Option<Source>,
    placement: Option<Source>,
    config: Config,
    placer: Placer,
    /// `None`: last value.
    forecast: Option<Method>,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        let window: Window = args.window.resolve()?;
        if let Some(path) = &args.report {
            crate::io::check_output_dir("--report", path)?;
        }
        let interval_s = limits::seconds("--interval", args.interval, limits::MIN_TP_S, false)?;
        let duration_s = args
            .duration
            .map(|d| limits::seconds("--duration", d, 0.0, true))
            .transpose()?;
        if window.tp <= 0.0 {
            return Err(Error::usage(format!("--tp {}: need T_p > 0", window.tp)));
        }
        if !(args.min_gain.is_finite() && args.min_gain >= 0.0) {
            return Err(Error::usage(format!(
                "--min-gain {}: need a finite number >= 0",
                args.min_gain
            )));
        }
        args.predictor.check()?;
        let forecast = match args.predictor.predictor.unwrap_or(PredictorKind::Last) {
            PredictorKind::Last => None,
            kind => Some(args.predictor.method(kind)),
        };
        let replay = args.replay.as_deref().map(Source::from_arg);
        let placement = args.placement.as_deref().map(Source::from_arg);
        at_most_one_stdin(
            &[
                ("--replay", args.replay.as_deref()),
                ("--load", args.load.as_deref()),
                ("--placement", args.placement.as_deref()),
            ]
            .into_iter()
            .chain(args.problem.stdin_flags())
            .collect::<Vec<_>>(),
            None,
        )?;
        if replay.is_none() && placement.is_some() {
            return Err(Error::usage(
                "--placement: a live balance starts from the placement in force in the state dir (deploy with `netbalance migrate`)",
            ));
        }
        let loads = args.load.as_deref().map(Source::from_arg);
        let budget = match args.moves {
            Some(n) => Budget::Moves(n),
            None => Budget::Time(limits::duration("--to", window.to)?),
        };
        Ok(Settings {
            replay,
            loads,
            placement,
            config: Config {
                window,
                limits: Limits {
                    max_moves: args.max_moves,
                    min_gain: args.min_gain,
                },
                max_windows: args.windows,
                duration_s,
                interval_s,
                skip_unchanged: false,
            },
            placer: Placer {
                budget,
                seed: args.seed.seed,
            },
            forecast,
        })
    }

    fn predictor(&self, keep: usize) -> Box<dyn Predictor> {
        match self.forecast {
            None => Box::new(LastValue::default()),
            Some(method) => Box::new(Forecast::new(method, keep)),
        }
    }

    fn mode(&self) -> RunMode {
        if self.replay.is_some() {
            RunMode::Replay
        } else {
            RunMode::Live
        }
    }
}

pub fn run(args: Args) -> Result<Status> {
    let settings = Settings::resolve(&args)?;
    args.plot.frame(report::SIZE)?; // a bad --plot-size fails before the run, not after
    let state_dir = StateDir::open(&args.state_dir.state_dir)?;
    let lock = state_dir.lock()?;
    let state = BalanceState::new(state_dir.path());
    if args.fresh {
        state.remove()?;
    }
    let saved = state.read()?;
    if let Some(saved) = &saved {
        if saved.mode != settings.mode() {
            return Err(Error::usage(format!(
                "{} holds a {} run; a {} run does not continue it (give another --state-dir)",
                state.path().display(),
                mode_name(saved.mode),
                mode_name(settings.mode())
            )));
        }
    }
    match &settings.replay {
        Some(replay) => run_replay(&args, &settings, replay, &state, saved.as_ref()),
        None => run_live(&args, &settings, &state_dir, &lock, &state, saved.as_ref()),
    }
}

fn mode_name(mode: RunMode) -> &'static str {
    match mode {
        RunMode::Replay => "what-if (--replay)",
        RunMode::Live => "live",
    }
}

/// What-if: the recorded stream, a clock that jumps, an actuator that touches nothing.
fn run_replay(
    args: &Args,
    settings: &Settings,
    replay: &Source,
    state: &BalanceState,
    saved: Option<&SavedState>,
) -> Result<Status> {
    let given = settings.placement.as_ref().map(read_placement).transpose()?;
    let problem = args.problem.resolve(given.as_ref().or(saved.map(|s| &s.placement)))?;
    let inst = &problem.instance;
    let text = replay.read_to_string()?;
    let run = RunOf::new(&problem, Some((&replay.name(), text.as_bytes())));
    if let Some(saved) = saved {
        state.check_continues(saved, &run)?;
    }
    let snapshots = crate::model::parse_load_stream(&text, &replay.name())?;
    drop(text);
    let mut source = ReplaySource::new(inst, &snapshots, &replay.name(), settings.config.interval_s)?;
    let Some(first) = snapshots.first() else {
        return Err(Error::input(
            Location::file(replay.name()),
            "no load snapshot in the stream",
        ));
    };
    let span = snapshots.last().map_or(0.0, |l| l.t - first.t) + settings.config.interval_s;
    limits::windows(
        &format!("{:?}: the stream", replay.name()),
        span,
        settings.config.window.tp,
    )?;
    let progress = match (saved, &given) {
        (Some(saved), given) => {
            if given.is_some() {
                crate::info!(
                    "netbalance: continuing from {} (window {}); --placement applies to a fresh state dir only",
                    state.path().display(),
                    saved.window
                );
            }
            state.progress(saved, &problem)?
        }
        (None, Some(p)) => {
            let name = settings.placement.as_ref().map(Source::name).unwrap_or_default();
            fresh(problem.assignment(p, &name)?)
        }
        (None, None) => {
            crate::info!("netbalance: no placement given: starting from an initial placement for the first sample");
            fresh(
                settings
                    .placer
                    .initial(inst, &inst.load_from_snapshot(first, &replay.name())?),
            )
        }
    };
    let mut clock = FakeClock::starting_at(progress.t.or(source.start()).unwrap_or(0.0));
    let mut placer = settings.placer;
    let mut out = CliOutput::new(&problem, state, RunMode::Replay, run, args.report.is_some());
    let summary = Balancer {
        inst: std::borrow::Cow::Borrowed(inst),
        config: settings.config,
        source: &mut source,
        predictor: settings.predictor(args.predictor.history).as_mut(),
        clock: &mut clock,
        replacer: &mut placer,
        actuator: &mut WhatIf,
        stop: signal::install(),
    }
    .run(progress, &mut out);
    out.finish(args, settings, summary)
}

/// Live: the testbed sampled in-process (or `--load`), the wall clock, the migrate engine.
fn run_live(
    args: &Args,
    settings: &Settings,
    state_dir: &StateDir,
    lock: &StateLock,
    state: &BalanceState,
    saved: Option<&SavedState>,
) -> Result<Status> {
    let Some(in_force) = state_dir.placement()? else {
        return Err(Error::usage(format!(
            "nothing deployed in {}: deploy first (netbalance place --topology T.json | netbalance migrate --state-dir {})",
            state_dir.path().display(),
            state_dir.path().display()
        )));
    };
    let problem = args.problem.resolve(Some(&in_force))?;
    super::check_host_mode("balance", problem.instance.mode, &problem.testbed)?;
    let current = problem.assignment(&in_force, &state_dir.placement_path().display().to_string())?;
    let run = RunOf::new(&problem, None);
    if let Some(saved) = saved {
        state.check_continues(saved, &run)?;
    }
    let progress = match saved {
        Some(saved) => Position {
            current,
            ..state.progress(saved, &problem)?
        },
        None => fresh(current),
    };
    let paths = Paths {
        state_root: args.state_root.clone(),
        ..Paths::default()
    };
    let ssh = args.ssh.options(&problem.testbed);
    let driver = migrate::driver_for(&problem, Some(&in_force), ssh.clone(), paths.clone())?;
    let migrate_progress = migrate::StepBar::hidden();
    let job = Job {
        problem: &problem,
        driver: driver.as_ref(),
        state: state_dir,
        lock,
        progress: &migrate_progress,
    };
    let origin = Instant::now();
    let origin_t = progress.t.unwrap_or(0.0);
    let mut source: Box<dyn LoadSource> = match &settings.loads {
        Some(Source::Stdin) => Box::new(StreamSource::spawn(
            &problem.instance,
            "<stdin>",
            std::io::BufReader::new(std::io::stdin()),
            origin,
            origin_t,
        )),
        Some(Source::File(path)) => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
            let name = path.display().to_string();
            Box::new(StreamSource::spawn(
                &problem.instance,
                &name,
                std::io::BufReader::new(file),
                origin,
                origin_t,
            ))
        }
        None => {
            let fleet = Fleet::new(&problem.testbed, ssh, paths);
            Box::new(MonitorSource::new(
                &problem,
                fleet,
                state_dir,
                settings.config.interval_s,
                origin,
                origin_t,
            )?)
        }
    };
    let mut clock = RealClock::new(origin, origin_t);
    let mut placer = settings.placer;
    let mut actuator = MigrateActuator { job, problem: &problem };
    let mut out = CliOutput::new(&problem, state, RunMode::Live, run, args.report.is_some());
    let summary = Balancer {
        inst: std::borrow::Cow::Borrowed(&problem.instance),
        config: settings.config,
        source: source.as_mut(),
        predictor: settings.predictor(args.predictor.history).as_mut(),
        clock: &mut clock,
        replacer: &mut placer,
        actuator: &mut actuator,
        stop: signal::install(),
    }
    .run(progress, &mut out);
    out.finish(args, settings, summary)
}

fn fresh(start: Vec<u32>) -> Position {
    Position {
        window: 0,
        t: None,
        current: start.clone(),
        baseline: start,
    }
}

/// Where the loop's output goes: NDJSON on stdout, the state file, the
/// status line on stderr, and what the report needs.
struct CliOutput<'a> {
    problem: &'a Problem,
    state: &'a BalanceState,
    mode: RunMode,
    /// The inputs the run belongs to (recorded in the state file).
    run: RunOf,
    /// The last checkpoint (written again, marked finished, at the end of a replayed stream).
    last: Option<Position>,
    bar: ProgressBar,
    keep: bool,
    records: Vec<WindowRecord>,
    points: Vec<TauPoint>,
    real_s: f64,
    baseline_s: f64,
}

impl<'a> CliOutput<'a> {
    fn new(problem: &'a Problem, state: &'a BalanceState, mode: RunMode, run: RunOf, keep: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = match mode {
            RunMode::Live => "{spinner} [{elapsed_precise}] {msg}",
            RunMode::Replay => "{spinner} {msg}",
        };
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
        if mode == RunMode::Live {
            bar.set_message("waiting for the first load sample");
            bar.enable_steady_tick(Duration::from_millis(250));
        }
        CliOutput {
            problem,
            state,
            mode,
            run,
            last: None,
            bar,
            keep,
            records: Vec::new(),
            points: Vec::new(),
            real_s: 0.0,
            baseline_s: 0.0,
        }
    }

    /// Clear the status line; with `--report`, write the plot and the table.
    fn finish(self, args: &Args, settings: &Settings, summary: Result<Summary>) -> Result<Status> {
        self.bar.finish_and_clear();
        let summary = summary?;
        if let Some(path) = &args.report {
            let t_end = self.records.last().map_or(0.0, |r| r.t + r.length_s);
            let changes: Vec<f64> = self
                .records
                .iter()
                .filter(|r| r.decision == Decision::Changed)
                .map(|r| r.t + settings.config.window.to.min(r.length_s))
                .collect();
            report::write_plot(path, &self.points, t_end, &changes, args.plot.frame(report::SIZE)?)?;
            if !crate::log::quiet() {
                eprint!("{}", report::table(&self.records));
            }
            crate::info!(
                "runtime {:.1} s with netbalance, {:.1} s without ({:.3}×); {} migrations, {} moves; plot: {}",
                summary.real_s,
                summary.baseline_s,
                summary.relative_runtime,
                summary.changes,
                summary.moves,
                path.display()
            );
        }
        Ok(Status::Done)
    }

    fn emit(&mut self, line: &LogLine) -> Result<()> {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        crate::io::write_ndjson_line(&mut lock, &crate::io::rounded(line)?)
    }
}

impl Output for CliOutput<'_> {
    fn checkpoint(&mut self, progress: &Position) -> Result<()> {
        self.last = Some(progress.clone());
        self.state.save(self.mode, self.problem, progress, &self.run, false)
    }

    fn window(&mut self, r: &WindowRecord) -> Result<()> {
        self.real_s += r.real_s;
        self.baseline_s += r.baseline_s;
        let what = match r.decision {
            Decision::Changed => format!("migrated {} vnodes (χ {:.2} s)", r.moved.len(), r.chi.unwrap_or(0.0)),
            Decision::Kept => "kept".to_string(),
        };
        self.bar.set_message(format!(
            "window {} t={:.1}s  τ {:.3} → {:.3} (baseline {:.3})  {}  runtime {:.3}× baseline",
            r.window,
            r.t,
            r.tau_now,
            r.tau_after,
            r.tau_baseline,
            what,
            if self.baseline_s > 0.0 {
                self.real_s / self.baseline_s
            } else {
                1.0
            }
        ));
        self.bar.tick();
        self.emit(&LogLine::Window(r.clone()))?;
        if self.keep {
            self.records.push(r.clone());
        }
        Ok(())
    }

    fn summary(&mut self, s: &Summary) -> Result<()> {
        if self.mode == RunMode::Replay && s.stopped_by == StopCause::EndOfStream {
            if let Some(last) = &self.last {
                self.state.save(self.mode, self.problem, last, &self.run, true)?;
            }
        }
        self.emit(&LogLine::Summary(s.clone()))
    }

    fn sample(&mut self, p: &TauPoint) -> Result<()> {
        if self.keep {
            self.points.push(*p);
        }
        Ok(())
    }
}
