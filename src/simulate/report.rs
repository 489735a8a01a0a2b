//! What `simulate` writes: NDJSON records tagged by `"type"` (one per
//! window, then one summary), or CSV; and the mean ± stddev over runs.

use super::engine::{Decision, RunResult, WindowRecord};
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

/// Mean ± stddev over runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub runs: usize,
    pub relative_runtime: Stat,
    pub runtime_with_s: Stat,
    pub runtime_without_s: Stat,
    pub migrations: Stat,
    pub migration_s: Stat,
    pub parameters: Parameters,
}

impl Summary {
    pub fn of(results: &[RunResult], parameters: Parameters) -> Summary {
        let stat = |f: &dyn Fn(&RunResult) -> f64| Stat::of(&results.iter().map(f).collect::<Vec<_>>());
        Summary {
            runs: results.len(),
            relative_runtime: stat(&|r| r.relative_runtime),
            runtime_with_s: stat(&|r| r.runtime_with),
            runtime_without_s: stat(&|r| r.runtime_without),
            migrations: stat(&|r| r.migrations as f64),
            migration_s: stat(&|r| r.migration_s),
            parameters,
        }
    }
}

/// One NDJSON line of `simulate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record<'a> {
    Window(&'a WindowRecord),
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
    Summary(&'a Summary),
}

/// The records of one run: its windows, then a `"run"` line.
pub fn run_records(r: &RunResult) -> Vec<Record<'_>> {
    let mut out: Vec<Record> = r.windows.iter().map(Record::Window).collect();
    out.push(Record::Run {
        run: r.run,
        sinks: &r.sinks,
        runtime_with_s: r.runtime_with,
        runtime_without_s: r.runtime_without,
        relative_runtime: r.relative_runtime,
        migrations: r.migrations,
        migration_s: r.migration_s,
        moves_evaluated: r.moves_evaluated,
    });
    out
}

/// CSV header of [`csv_rows`].
pub const CSV_HEADER: &str =
    "run,t,t_end,real_t,epoch,sink,predicted_epoch,tau_before,tau,tau_without,decision,chi,t_r,moved,real_s\n";

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Skip => "skip",
        Decision::Stay => "stay",
        Decision::Migrate => "migrate",
        Decision::Short => "short",
    }
}

/// One CSV row per window (the summary goes to stderr in CSV mode).
pub fn csv_rows(r: &RunResult) -> String {
    let mut s = String::new();
    for w in &r.windows {
        let chi = w.chi.map(|c| c.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            w.run,
            w.t,
            w.t_end,
            w.real_t,
            w.epoch,
            w.sink,
            w.predicted_epoch,
            w.tau_before,
            w.tau,
            w.tau_without,
            decision_name(w.decision),
            chi,
            w.t_r,
            w.moved,
            w.real_s
        );
    }
    s
}
