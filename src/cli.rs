//! The command line, shared by the binary and by the test that generates
//! `completions/` and `man/`. Each subcommand's arguments live beside its
//! code in `commands/<name>.rs`; the flags every command shares (model §7)
//! are defined here once.

use crate::commands;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "netbalance",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("NETBALANCE_GIT_COMMIT"), ")"),
    about = "Shorten network-emulation experiments by re-placing and live-migrating virtual nodes",
    long_about = "Shorten network-emulation experiments by re-placing and live-migrating virtual nodes.\n\n\
Every subcommand reads and writes JSON or NDJSON on stdin/stdout, so they compose in pipes;\n\
logs and progress go to stderr. Exit codes: 0 done, 1 a negative answer (e.g. no beneficial\n\
re-placement), 2 bad input or usage, 3 a host failure after which the testbed was restored.",
    after_help = "Examples:\n  netbalance testbed --hosts 8 --cpus 8 > testbed.json\n  netbalance topology waxman --nodes 100 > waxman.json\n  netbalance place --topology waxman.json | netbalance cost\n  netbalance place --topology waxman.json | netbalance migrate --dry-run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more on stderr: which files were read, where each input came from
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a testbed description (hosts × CPUs)
    Testbed(commands::testbed::Args),
    /// Print τ of a placement with its bottleneck; with --target also T_r and χ
    Cost(commands::cost::Args),
    /// Generate the paper's topologies (grid, waxman, campus, internet) or import GML, GraphML, node-link JSON, edge lists, containerlab YAML
    Topology(commands::topology::Args),
    /// Place vnodes on VMs (minimise τ), or re-place from --placement when it pays (χ < 0)
    Place(commands::place::Args),
    /// Sample the deployed vnodes' load; one snapshot per interval (NDJSON)
    Monitor(commands::monitor::Args),
    /// Measure migration phases on the testbed; print a costs profile
    Calibrate(commands::calibrate::Args),
    /// Run a command under a reaping daemon (used on the VMs by migrations)
    #[command(hide = true)]
    Keeper(commands::keeper::Args),
    /// One end of a direct VM-to-VM image copy (used on the VMs by migrations)
    #[command(hide = true)]
    Xfer(commands::xfer::Args),
    /// One criu process of a post-copy move, detached, with a page-server relay (used on the VMs by migrations)
    #[command(hide = true)]
    Pages(commands::pages::Args),
    /// Count and clear the soft-dirty pages of vnodes' processes (used on the VMs by monitor --dirty)
    #[command(hide = true)]
    Dirty(commands::dirty::Args),
    /// The paper's sensor traffic as a vnode's program: send towards the sink, relay (for live runs)
    #[command(hide = true)]
    Traffic(commands::traffic::Args),
    /// The closed loop: every window re-place and migrate when it pays (χ < 0); --replay for what-if
    Balance(Box<commands::balance::Args>),
    /// Bring the testbed to a target placement: deploy, live-migrate, tear down; print the placement reached
    Migrate(commands::migrate::Args),
    /// Rerun the paper's evaluation (video sensor network, moving sink): per-window τ and decisions, relative runtime
    Simulate(commands::simulate::Args),
    /// Predict the load of the next window from an NDJSON load stream; --evaluate scores predictors
    Predict(commands::predict::Args),
    /// A testbed of real QEMU VMs on this machine: up, status, ssh, down
    Lab(commands::lab::Args),
    /// What is deployed and what really runs: per vnode its VM, pid, CPU so far, links, health
    Status(commands::status::Args),
    /// Write a placement as the node → host mapping MaxiNet or Distrinet takes
    Export(commands::export::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(commands::completions::Args),
}

/// `--testbed FILE` (model §7).
#[derive(Debug, Clone, Args, Default)]
pub struct TestbedArg {
    /// The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement's "testbed"]
    #[arg(long, value_name = "FILE")]
    pub testbed: Option<PathBuf>,
}

/// `--topology FILE` (model §7).
#[derive(Debug, Clone, Args, Default)]
pub struct TopologyArg {
    /// The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement's "topology"]
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
}

/// `--topology`, `--testbed` and `--costs` together: what a command needs
/// to resolve its [`Problem`](crate::inputs::Problem).
#[derive(Debug, Clone, Args, Default)]
pub struct ProblemArgs {
    #[command(flatten)]
    pub topology: TopologyArg,
    #[command(flatten)]
    pub testbed: TestbedArg,
    #[command(flatten)]
    pub costs: CostsArg,
    #[command(flatten)]
    pub migration: MigrationArg,
}

impl ProblemArgs {
    /// Resolve topology, testbed and costs (model §7 fallbacks, using the
    /// placement's recorded paths where flags are absent).
    /// The problem's instance prices moves in the `--migration` mode, else
    /// the testbed's, else stop-copy (model §3.1).
    pub fn resolve(&self, placement: Option<&crate::model::Placement>) -> crate::Result<crate::inputs::Problem> {
        let mut problem = crate::inputs::Problem::resolve(
            self.topology.topology.as_deref(),
            self.testbed.testbed.as_deref(),
            self.costs.costs.as_deref(),
            placement,
        )?;
        problem.instance.mode = self.migration.resolve(Some(&problem.testbed));
        Ok(problem)
    }

    /// The three flags, named, for [`crate::inputs::at_most_one_stdin`].
    pub fn stdin_flags(&self) -> [(&'static str, Option<&std::path::Path>); 3] {
        [
            ("--topology", self.topology.topology.as_deref()),
            ("--testbed", self.testbed.testbed.as_deref()),
            ("--costs", self.costs.costs.as_deref()),
        ]
    }
}

/// `--migration MODE` (model §3.1).
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct MigrationArg {
    /// How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed's "migration", else stop-copy]
    #[arg(long, value_enum, value_name = "MODE")]
    pub migration: Option<crate::model::MigrationMode>,
}

impl MigrationArg {
    /// The flag, else the testbed's `migration`, else stop-copy.
    ///
    /// ```
    /// use netbalance::cli::MigrationArg;
    /// use netbalance::model::{MigrationMode, Testbed};
    /// let mut tb = Testbed::generate(1, 1, 1000.0);
    /// assert_eq!(MigrationArg::default().resolve(Some(&tb)), MigrationMode::StopCopy);
    /// tb.migration = Some(MigrationMode::PreCopy);
    /// assert_eq!(MigrationArg::default().resolve(Some(&tb)), MigrationMode::PreCopy);
    /// let flag = MigrationArg { migration: Some(MigrationMode::PostCopy) };
    /// assert_eq!(flag.resolve(Some(&tb)), MigrationMode::PostCopy);
    /// ```
    pub fn resolve(&self, testbed: Option<&crate::model::Testbed>) -> crate::model::MigrationMode {
        self.migration
            .or_else(|| testbed.and_then(|t| t.migration))
            .unwrap_or_default()
    }
}

/// `--costs FILE` (model §7).
#[derive(Debug, Clone, Args, Default)]
pub struct CostsArg {
    /// A costs profile (e.g. from `calibrate`) [default: the testbed's costs, else the model's defaults]
    #[arg(long, value_name = "FILE")]
    pub costs: Option<PathBuf>,
}

/// `--tp S` and `--to S` (model §7).
#[derive(Debug, Clone, Copy, Args)]
pub struct WindowArgs {
    /// Prediction window T_p, seconds
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub tp: f64,
    /// Optimisation budget T_o, seconds
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub to: f64,
}

impl WindowArgs {
    /// Check 0 ≤ T_o ≤ T_p, T_p within [`crate::limits::MIN_TP_S`, `crate::limits::MAX_SECONDS`].
    pub fn resolve(&self) -> crate::Result<crate::cost::Window> {
        crate::limits::seconds("--tp", self.tp, crate::limits::MIN_TP_S, false)?;
        if !(self.tp.is_finite() && self.to.is_finite() && self.to >= 0.0 && self.tp >= self.to) {
            return Err(crate::Error::usage(format!(
                "--tp {} --to {}: need finite 0 <= T_o <= T_p",
                self.tp, self.to
            )));
        }
        Ok(crate::cost::Window {
            tp: self.tp,
            to: self.to,
        })
    }
}

/// `--seed N` (model §7).
#[derive(Debug, Clone, Copy, Args)]
pub struct SeedArg {
    /// Seed for every random choice (same seed and --moves: same bytes)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

/// `--state-dir DIR` (model §7).
#[derive(Debug, Clone, Args)]
pub struct StateDirArg {
    /// The placement in force and the migration journal
    #[arg(long, value_name = "DIR", default_value = ".netbalance")]
    pub state_dir: PathBuf,
}

/// The load predictor (`balance`, `predict`): one flag group, one vocabulary.
#[derive(Debug, Clone, Copy, Args)]
pub struct PredictorArgs {
    /// Prediction method [default: last; `predict --evaluate`: all three]
    #[arg(long, value_enum, value_name = "METHOD", alias = "method")]
    pub predictor: Option<PredictorKind>,
    /// EWMA weight of the newest sample, 0 < α ≤ 1
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Longest period the periodic method looks for, in samples
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_lag: usize,
    /// Samples of history a prediction uses (the most recent)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub history: usize,
}

/// `--predictor` (the methods of [`crate::predict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PredictorKind {
    /// The last measured value (the paper's choice)
    Last,
    /// Exponentially weighted moving average (--alpha)
    Ewma,
    /// Seasonal: the value one detected period back (the period that fits the history best, up to --max-lag), else the last value
    Periodic,
}

impl PredictorArgs {
    /// Check `--alpha` and `--history`.
    pub fn check(&self) -> crate::Result<()> {
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(crate::Error::usage(format!(
                "--alpha {}: need a number in (0, 1]",
                self.alpha
            )));
        }
        crate::limits::count("--history", self.history, 1, crate::limits::MAX_HISTORY)?;
        crate::limits::count("--max-lag", self.max_lag, 1, crate::limits::MAX_HISTORY)?;
        Ok(())
    }

    /// The method of `kind` with this group's parameters.
    pub fn method(&self, kind: PredictorKind) -> crate::predict::Method {
        use crate::predict::Method;
        match kind {
            PredictorKind::Last => Method::Last,
            PredictorKind::Ewma => Method::Ewma { alpha: self.alpha },
            PredictorKind::Periodic => Method::Periodic { max_lag: self.max_lag },
        }
    }
}

/// `--plot-size WxH` and `--plot-dpi N`: how a plot is drawn.
#[derive(Debug, Clone, Args, Default)]
pub struct PlotArgs {
    /// Size of the plot, WIDTHxHEIGHT pixels [default: 960x500]
    #[arg(long, value_name = "WxH")]
    pub plot_size: Option<String>,
    /// Resolution: a PNG gets size × DPI / 96 pixels; a PDF page is the size at DPI pixels per inch [default: 96]
    #[arg(long, value_name = "DPI")]
    pub plot_dpi: Option<u32>,
}

impl PlotArgs {
    /// The validated frame, `default` where no size is given.
    pub fn frame(&self, default: (u32, u32)) -> crate::Result<crate::plot::Frame> {
        crate::plot::Frame::parse(self.plot_size.as_deref(), self.plot_dpi, default)
    }
}
