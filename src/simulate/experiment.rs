//! One experiment of the paper's evaluation: every parameter of model §6 in
//! one struct (defaults: the paper profile), turned into the instance and
//! the run settings. Shared by `netbalance simulate` and `examples/paper`.

use super::drive::{RunResult, Settings};
use super::report::{Parameters, Statistics};
use super::scenario;
use crate::cost::{Instance, Window};
use crate::error::{Error, Result};
use crate::io::Source;
use crate::model::{Costs, MigrationMode, Testbed, Topology};
use std::path::PathBuf;

/// Placer moves per second of T_o by default. `place::replace` evaluated
/// about 1 M moves/s on the 40×40 grid on a 2-core machine (0.5–1.75 M/s
/// depending on its load); 250 k — about a quarter of that — keeps the
/// default 30-run grid simulation short (seconds in a release build).
/// It models a placer 4× slower than ours (or T_o/4 of ours); pass
/// `--moves-per-s 1000000` for the measured rate.
pub const DEFAULT_MOVES_PER_S: f64 = 250_000.0;

/// Seconds of placer time the initial placement gets by default (it is
/// computed before the experiment starts, so T_o does not bound it).
pub const DEFAULT_INITIAL_S: f64 = 2.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// `grid`, `waxman`, `campus`, `internet`, or a topology file.
    pub topology: String,
    pub hosts: usize,
    pub cpus: usize,
    pub window: Window,
    pub memory_mb: f64,
    /// How moves are priced (model §3.1); the paper's is stop-copy.
    pub migration: MigrationMode,
    pub rate_mbps: f64,
    pub epochs: usize,
    pub epoch_s: f64,
    pub detect_s: f64,
    pub moves_per_s: f64,
    pub initial_s: f64,
    pub c_proc: f64,
    pub nic_mbps: f64,
    pub costs: Costs,
    pub seed: u64,
}

impl Default for Experiment {
    fn default() -> Self {
        Experiment {
            topology: "grid".into(),
            hosts: 8,
            cpus: 8,
            window: Window { tp: 10.0, to: 1.0 },
            memory_mb: 10.0,
            migration: MigrationMode::StopCopy,
            rate_mbps: 10.0,
            epochs: 16,
            epoch_s: 120.0,
            detect_s: 0.0,
            moves_per_s: DEFAULT_MOVES_PER_S,
            initial_s: DEFAULT_INITIAL_S,
            c_proc: scenario::PAPER_C_PROC,
            nic_mbps: scenario::PAPER_NIC_MBPS,
            costs: scenario::paper_costs(),
            seed: 1,
        }
    }
}

fn check(name: &str, v: f64, strict: bool) -> Result<()> {
    if v.is_finite() && (v > 0.0 || (!strict && v == 0.0)) {
        Ok(())
    } else {
        let bound = if strict { "> 0" } else { ">= 0" };
        Err(Error::usage(format!("{name} must be a finite number {bound}, got {v}")))
    }
}

/// A named paper topology or a topology file (any format `read_topology` knows).
pub fn topology(arg: &str, seed: u64) -> Result<Topology> {
    if let Some(t) = crate::topology::generate::paper(arg, seed) {
        return Ok(t);
    }
    let path = PathBuf::from(arg);
    if !path.exists() && !arg.contains(['/', '.']) {
        return Err(Error::usage(format!(
            "--topology {arg}: not a known topology (grid, waxman, campus, internet) nor a file"
        )));
    }
    crate::topology::read_topology(&Source::from_arg(&path))
}

impl Experiment {
    /// Check every parameter; errors name the flag.
    pub fn check(&self) -> Result<()> {
        let w = self.window;
        if !(w.tp.is_finite() && w.to.is_finite() && w.to >= 0.0 && w.tp >= w.to && w.tp > 0.0) {
            return Err(Error::usage(format!(
                "--tp {} --to {}: need finite 0 <= T_o <= T_p, T_p > 0",
                w.tp, w.to
            )));
        }
        if self.hosts == 0 || self.cpus == 0 || self.epochs == 0 {
            return Err(Error::usage("--hosts, --cpus and --epochs must be at least 1"));
        }
        check("--epoch-s", self.epoch_s, true)?;
        check("--nic-mbps", self.nic_mbps, true)?;
        for (name, v) in [
            ("--memory-mb", self.memory_mb),
            ("--rate", self.rate_mbps),
            ("--moves-per-s", self.moves_per_s),
            ("--initial-s", self.initial_s),
            ("--detect-s", self.detect_s),
            ("--c-proc", self.c_proc),
        ] {
            check(name, v, false)?;
        }
        self.costs
            .check()
            .map_err(|(f, m)| Error::usage(format!("costs: {f}: {m}")))
    }

    /// The indexed instance: the topology with every vnode's memory set to
    /// `memory_mb`, on a generated testbed of `hosts` × `cpus`.
    pub fn instance(&self) -> Result<Instance> {
        self.check()?;
        let mut topo = topology(&self.topology, self.seed)?;
        if topo.vnodes.is_empty() {
            return Err(Error::usage(format!("--topology {}: no vnodes", self.topology)));
        }
        topo.vnodes.iter_mut().for_each(|n| n.memory_mb = self.memory_mb);
        let testbed = Testbed::generate(self.hosts, self.cpus, self.nic_mbps);
        Ok(Instance::new(&topo, &testbed, self.costs.clone()).with_mode(self.migration))
    }

    /// Optimiser budget per re-placement: T_o × moves per second.
    pub fn moves(&self) -> u64 {
        (self.window.to * self.moves_per_s).round() as u64
    }

    pub fn settings(&self) -> Settings {
        Settings {
            window: self.window,
            epochs: self.epochs,
            epoch_s: self.epoch_s,
            detect_s: self.detect_s,
            rate_mbps: self.rate_mbps,
            c_proc: self.c_proc,
            moves: self.moves(),
            initial_moves: (self.initial_s * self.moves_per_s).round() as u64,
        }
    }

    pub fn parameters(&self, inst: &Instance) -> Parameters {
        Parameters {
            topology: self.topology.clone(),
            vnodes: inst.n_vnodes(),
            links: inst.links.len(),
            hosts: self.hosts,
            cpus: self.cpus,
            tp: self.window.tp,
            to: self.window.to,
            memory_mb: self.memory_mb,
            migration: self.migration,
            rate_mbps: self.rate_mbps,
            epochs: self.epochs,
            epoch_s: self.epoch_s,
            detect_s: self.detect_s,
            moves_per_s: self.moves_per_s,
            moves: self.moves(),
            c_proc: self.c_proc,
            nic_mbps: self.nic_mbps,
            seed: self.seed,
        }
    }

    /// Run `runs` runs on `threads` threads; their results and summary.
    pub fn run(&self, runs: usize, threads: usize, done: &(dyn Fn() + Sync)) -> Result<(Vec<RunResult>, Statistics)> {
        if runs == 0 {
            return Err(Error::usage("--runs must be at least 1"));
        }
        let inst = self.instance()?;
        let results = super::run_all(&inst, &self.settings(), runs, self.seed, threads, done)?;
        let summary = Statistics::of(&results, self.parameters(&inst));
        Ok((results, summary))
    }
}
