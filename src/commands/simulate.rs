//! `netbalance simulate`: the paper's evaluation (model §6) — per-window τ,
//! decisions and T_r as NDJSON (or CSV), then the relative runtime, mean ±
//! stddev over `--runs` seeds.

use super::Status;
use crate::cli::{SeedArg, WindowArgs};
use crate::error::{Error, Result};
use crate::io::{read_json, Source};
use crate::model::{Costs, MigrationMode};
use crate::simulate::experiment::{Experiment, DEFAULT_INITIAL_S, DEFAULT_MOVES_PER_S};
use crate::simulate::report;
use crate::simulate::{self as sim, scenario};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Debug, clap::Args)]
#[command(
    args_override_self = true,
    after_help = "Examples:\n  netbalance simulate --runs 30 > grid.ndjson\n  netbalance simulate --topology waxman --tp 8 --runs 10 | tail -n 1\n  netbalance simulate --runs 1 --plot tau.svg --format csv > windows.csv\n  netbalance simulate --loads > loads.ndjson && netbalance topology paper grid > grid.json\n  netbalance balance --replay loads.ndjson --topology grid.json --moves 250000 --report tau.svg"
)]
pub struct Args {
    /// grid (40×40), waxman (2,500), campus (5,480), internet (2,113), or a topology FILE
    #[arg(long, value_name = "NAME|FILE", default_value = "grid")]
    pub topology: String,
    /// Physical hosts of the simulated testbed
    #[arg(long, default_value_t = 8)]
    pub hosts: usize,
    /// CPUs (= VMs) per host
    #[arg(long, default_value_t = 8)]
    pub cpus: usize,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Memory of the software under test in every vnode, MB (state a migration moves)
    #[arg(long, value_name = "MB", default_value_t = 10.0)]
    pub memory_mb: f64,
    /// How vnodes migrate, and so how a move is priced (model §3.1)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = MigrationMode::StopCopy)]
    pub migration: MigrationMode,
    /// R: Mbit/s every vnode streams to the sink
    #[arg(long, value_name = "MBPS", default_value_t = 10.0)]
    pub rate: f64,
    /// Epochs (the sink changes epochs − 1 times)
    #[arg(long, default_value_t = 16)]
    pub epochs: usize,
    /// Virtual seconds between sink changes
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    pub epoch_s: f64,
    /// Independent runs (sinks and optimiser seeds differ per run)
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    #[command(flatten)]
    pub seed: SeedArg,
    /// Placer moves per second of T_o: the optimiser budget is T_o × this (ours measured 0.5–1.7 M/s; the default is lower to keep runs short)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MOVES_PER_S)]
    pub moves_per_s: f64,
    /// Seconds of placer time (× --moves-per-s) for the initial placement
    #[arg(long, value_name = "S", default_value_t = DEFAULT_INITIAL_S)]
    pub initial_s: f64,
    /// Virtual seconds before a sink change is seen (0: at once)
    #[arg(long, value_name = "S", default_value_t = 0.0)]
    pub detect_s: f64,
    /// A costs profile [default: the paper profile of model §6]
    #[arg(long, value_name = "FILE")]
    pub costs: Option<PathBuf>,
    /// CPU-seconds a vnode spends per Mbit it receives or sends
    #[arg(long, value_name = "X", default_value_t = scenario::PAPER_C_PROC)]
    pub c_proc: f64,
    /// NIC bandwidth of every host, Mbit/s
    #[arg(long, value_name = "X", default_value_t = scenario::PAPER_NIC_MBPS)]
    pub nic_mbps: f64,
    /// Output format of the window records (csv: one row per window; the summary line goes to stderr)
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    pub format: Format,
    /// Also plot τ over time of run 0 (with vs without), .svg, .png or .pdf
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write the scenario's load instead (run 0: one snapshot per epoch, NDJSON), e.g. for `balance --replay`
    #[arg(long, conflicts_with_all = ["plot", "format"])]
    pub loads: bool,
    #[command(flatten)]
    pub plot_frame: crate::cli::PlotArgs,
    /// Worker threads [default: the number of CPUs]; the output does not depend on it
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// The validated settings of one `simulate` invocation.
struct Settings {
    experiment: Experiment,
    threads: usize,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        let costs: Costs = match &args.costs {
            None => scenario::paper_costs(),
            Some(p) => {
                let src = Source::from_arg(p);
                let c: Costs = read_json(&src)?;
                c.check()
                    .map_err(|(f, m)| Error::input(crate::error::Location::file(src.name()).at_path(f), m))?;
                c
            }
        };
        let experiment = Experiment {
            topology: args.topology.clone(),
            hosts: args.hosts,
            cpus: args.cpus,
            window: args.window.resolve()?,
            memory_mb: args.memory_mb,
            migration: args.migration,
            rate_mbps: args.rate,
            epochs: args.epochs,
            epoch_s: args.epoch_s,
            detect_s: args.detect_s,
            moves_per_s: args.moves_per_s,
            initial_s: args.initial_s,
            c_proc: args.c_proc,
            nic_mbps: args.nic_mbps,
            costs,
            seed: args.seed.seed,
        };
        experiment.check()?;
        bounds(args)?;
        let threads = match args.threads {
            Some(0) => return Err(Error::usage("--threads must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(Settings { experiment, threads })
    }
}

/// The flags' bounds ([`crate::limits`]): runs, VMs, seconds, the number of windows.
fn bounds(args: &Args) -> Result<()> {
    if let Some(path) = &args.plot {
        crate::io::check_output_dir("--plot", path)?;
    }
    use crate::limits::{self, MAX_MOVES_PER_S, MAX_RUNS, MAX_VMS};
    limits::count("--runs", args.runs, 1, MAX_RUNS)?;
    if args.hosts.saturating_mul(args.cpus) > MAX_VMS {
        return Err(Error::usage(format!(
            "--hosts {} --cpus {}: at most {MAX_VMS} VMs",
            args.hosts, args.cpus
        )));
    }
    limits::seconds("--epoch-s", args.epoch_s, 0.0, true)?;
    limits::seconds("--initial-s", args.initial_s, 0.0, false)?;
    limits::seconds("--detect-s", args.detect_s, 0.0, false)?;
    limits::real("--moves-per-s", args.moves_per_s, 0.0, MAX_MOVES_PER_S)?;
    limits::real("--memory-mb", args.memory_mb, 0.0, limits::MAX_VALUE)?;
    limits::real("--rate", args.rate, 0.0, limits::MAX_VALUE)?;
    limits::real("--c-proc", args.c_proc, 0.0, limits::MAX_VALUE)?;
    limits::real("--nic-mbps", args.nic_mbps, limits::MIN_POSITIVE, limits::MAX_VALUE)?;
    limits::windows(
        "the scenario (--epochs × --epoch-s)",
        args.epochs as f64 * args.epoch_s,
        args.window.tp,
    )?;
    Ok(())
}

pub fn run(args: Args) -> Result<Status> {
    let frame = args.plot_frame.frame(sim::plot::SIZE)?;
    if args.loads {
        let s = Settings::resolve(&args)?;
        let e = &s.experiment;
        let inst = e.instance()?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        for snap in sim::loads::epoch_snapshots(&inst, &e.settings(), 0, e.seed) {
            crate::io::write_ndjson_line(&mut out, &snap)?;
        }
        return Ok(Status::Done);
    }
    let s = Settings::resolve(&args)?;
    let bar = indicatif::ProgressBar::with_draw_target(Some(args.runs as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("simulate {bar:30} {pos}/{len} runs, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (results, summary) = s.experiment.run(args.runs, s.threads, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io_err = |e| Error::io("<stdout>", e);
    match args.format {
        Format::Ndjson => {
            for r in &results {
                for rec in report::run_records(r) {
                    serde_json::to_writer(&mut out, &crate::io::rounded(&rec)?).map_err(|e| io_err(e.into()))?;
                    writeln!(out).map_err(io_err)?;
                }
            }
            crate::io::write_ndjson_line(&mut out, &crate::io::rounded(&report::Record::Summary(&summary))?)?;
        }
        Format::Csv => {
            out.write_all(report::CSV_HEADER.as_bytes()).map_err(io_err)?;
            for r in &results {
                out.write_all(report::csv_rows(r).as_bytes()).map_err(io_err)?;
            }
            out.flush().map_err(io_err)?;
            let line = serde_json::to_string(&report::Record::Summary(&summary)).map_err(|e| io_err(e.into()))?;
            crate::info!("{line}");
        }
    }
    if let Some(path) = &args.plot {
        sim::plot::tau_over_time(path, &results[0], args.window.to, frame)?;
    }
    crate::info!(
        "relative runtime {:.3} ± {:.3} over {} runs",
        summary.relative_runtime.mean,
        summary.relative_runtime.stddev,
        summary.runs
    );
    Ok(Status::Done)
}
