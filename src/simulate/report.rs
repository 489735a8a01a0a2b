//! What `simulate` writes: NDJSON records tagged by `"type"` (one per
//! window, then one summary), or CSV; and the mean ± stddev over runs.

use super::drive::{RunResult, ScenarioWindow};
use crate::model::MigrationMode;
use serde::Serialize;
use std::fmt::Write as _;

/// Mean and sample standard deviation (n − 1; 0 for a single value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub stddev: f64,
}

impl Stat {
    /// ```
    /// use netbalance::simulate::report::Stat;
    /// let s = Stat::of(&[1.0, 2.0, 3.0]);
    /// assert_eq!((s.mean, s.stddev), (2.0, 1.0));
    /// assert_eq!(Stat::of(&[4.0]).stddev, 0.0);
    /// ```
    pub fn of(xs: &[f64]) -> Stat {
        let n = xs.len() as f64;
        if xs.is_empty() {
            return Stat {
                mean: f64::NAN,
                stddev: f64::NAN,
            };
        }
        let mean = xs.iter().sum::<f64>() / n;
        let var = if xs.len() > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Stat {
            mean,
            stddev: var.sqrt(),
        }
    }
}

/// The parameters a summary echoes, so a table row is self-describing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameters {
    pub topology: String,
    pub vnodes: usize,
    pub links: usize,
    pub hosts: usize,
    pub cpus: usize,
    pub tp: f64,
    pub to: f64,
    pub memory_mb: f64,
    /// How moves are priced (model §3.1); left out for stop-copy, the paper's.
    #[serde(skip_serializing_if = "MigrationMode::is_stop_copy")]
    pub migration: MigrationMode,
    pub rate_mbps: f64,
    pub epochs: usize,
    pub epoch_s: f64,
    pub detect_s: f64,
    pub moves_per_s: f64,
    pub moves: u64,
    pub c_proc: f64,
    pub nic_mbps: f64,
    pub seed: u64,
}

/// Mean ± stddev over runs (the `"summary"` line of `simulate`; one run's
/// totals are the balance engine's [`crate::balance::Summary`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    pub runs: usize,
    pub relative_runtime: Stat,
    pub runtime_with_s: Stat,
    pub runtime_without_s: Stat,
    pub migrations: Stat,
    pub migration_s: Stat,
    pub parameters: Parameters,
}

impl Statistics {
    pub fn of(results: &[RunResult], parameters: Parameters) -> Statistics {
        let stat = |f: &dyn Fn(&RunResult) -> f64| Stat::of(&results.iter().map(f).collect::<Vec<_>>());
        Statistics {
            runs: results.len(),
            relative_runtime: stat(&|r| r.relative_runtime()),
            runtime_with_s: stat(&|r| r.runtime_with()),
            runtime_without_s: stat(&|r| r.runtime_without()),
            migrations: stat(&|r| r.migrations() as f64),
            migration_s: stat(&|r| r.migration_s()),
            parameters,
        }
    }
}

/// One NDJSON line of `simulate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record<'a> {
    Window(&'a ScenarioWindow),
    Run {
        run: usize,
        sinks: &'a [String],
        runtime_with_s: f64,
        runtime_without_s: f64,
        relative_runtime: f64,
        migrations: usize,
        migration_s: f64,
        moves_evaluated: u64,
    },
    Summary(&'a Statistics),
}

/// The records of one run: its windows, then a `"run"` line.
pub fn run_records(r: &RunResult) -> Vec<Record<'_>> {
    let mut out: Vec<Record> = r.windows.iter().map(Record::Window).collect();
    out.push(Record::Run {
        run: r.run,
        sinks: &r.sinks,
        runtime_with_s: r.runtime_with(),
        runtime_without_s: r.runtime_without(),
        relative_runtime: r.relative_runtime(),
        migrations: r.migrations(),
        migration_s: r.migration_s(),
        moves_evaluated: r.moves_evaluated,
    });
    out
}

/// CSV header of [`csv_rows`].
pub const CSV_HEADER: &str = "run,t,length_s,epoch,predicted_epoch,sink,tau_now,tau_candidate,tau_actual,tau_baseline,\
decision,reason,chi,t_r,moved,real_s,baseline_s\n";

/// A serde unit enum's JSON name (`"changed"`, `"prediction_unchanged"`, ...).
fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One CSV row per window (the summary goes to stderr in CSV mode).
pub fn csv_rows(r: &RunResult) -> String {
    let mut s = String::new();
    for w in &r.windows {
        let x = &w.record;
        let chi = x.chi.map(|c| c.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            w.run,
            x.t,
            x.length_s,
            w.epoch,
            w.predicted_epoch,
            w.sink,
            x.tau_now,
            x.tau_candidate,
            x.tau_actual,
            x.tau_baseline,
            name_of(&x.decision),
            name_of(&x.reason),
            chi,
            x.t_r,
            x.moved.len(),
            x.real_s,
            x.baseline_s
        );
    }
    s
}
