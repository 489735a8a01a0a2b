//! `netbalance predict`: read an NDJSON load stream, write the predicted
//! load for the next window after every snapshot (LoadSnapshot shape, so
//! `place` and `cost` take it as `--load`); `--evaluate` scores predictors
//! on a recorded stream instead.

use super::Status;
use crate::error::{Error, Location, Result};
use crate::io::{write_ndjson_line, Source};
use crate::model::LoadSnapshot;
use crate::predict::score::{evaluate, summarise, MethodScore, WindowError};
use crate::predict::{predict, Method, Series};
use serde::Serialize;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The last measured value (the paper's choice)
    Last,
    /// Exponentially weighted moving average (--alpha)
    Ewma,
    /// Seasonal: the value one detected period back, else the last value
    Periodic,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance monitor --interval 1 | netbalance predict | netbalance place --placement cur.json\n  netbalance predict --method ewma --alpha 0.3 --load loads.ndjson | tail -n 1 > next.json\n  netbalance predict --evaluate --load recorded.ndjson | tail -n 1"
)]
pub struct Args {
    /// Load snapshots (NDJSON) [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// Prediction method [default: last; with --evaluate: all three]
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// EWMA weight of the newest snapshot, 0 < α ≤ 1
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Longest period the periodic method looks for, in snapshots
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_lag: usize,
    /// Snapshots of history a prediction uses (the most recent)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub history: usize,
    /// Score the method(s) on the stream instead: error per window, then a summary
    #[arg(long)]
    pub evaluate: bool,
}

struct Settings {
    source: Source,
    methods: Vec<Method>,
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        if !(args.alpha > 0.0 && args.alpha <= 1.0) {
            return Err(Error::usage(format!("--alpha must be in (0, 1], got {}", args.alpha)));
        }
        if args.history < 1 {
            return Err(Error::usage("--history must be at least 1"));
        }
        let of = |m: MethodArg| match m {
            MethodArg::Last => Method::Last,
            MethodArg::Ewma => Method::Ewma { alpha: args.alpha },
            MethodArg::Periodic => Method::Periodic { max_lag: args.max_lag },
        };
        let methods = match args.method {
            Some(m) => vec![of(m)],
            None if args.evaluate => [MethodArg::Last, MethodArg::Ewma, MethodArg::Periodic].map(of).to_vec(),
            None => vec![Method::Last],
        };
        let source = args.load.as_deref().map(Source::from_arg).unwrap_or(Source::Stdin);
        Ok(Settings { source, methods })
    }
}

/// One `--evaluate` output line.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Record<'a> {
    Window(&'a WindowError),
    Summary {
        methods: &'a [MethodScore],
        best: &'static str,
    },
}

pub fn run(args: Args) -> Result<Status> {
    let s = Settings::resolve(&args)?;
    if args.evaluate {
        return run_evaluate(&s, args.history);
    }
    let method = s.methods[0];
    let name = s.source.name();
    let reader: Box<dyn BufRead> = match &s.source {
        Source::Stdin => Box::new(std::io::stdin().lock()),
        Source::File(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).map_err(|e| Error::io(name.clone(), e))?,
        )),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut history: std::collections::VecDeque<LoadSnapshot> = std::collections::VecDeque::new();
    let heard = match s.source {
        Source::Stdin => crate::inputs::notice_if_silent("predict", "load snapshots (NDJSON)", "--load FILE"),
        Source::File(_) => std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io(name.clone(), e))?;
        if line.trim().is_empty() {
            continue;
        }
        heard.store(true, std::sync::atomic::Ordering::Relaxed);
        let snap = crate::model::load::parse_snapshot_line(&line, &name, i + 1)?;
        if let Some(prev) = history.back() {
            if snap.t < prev.t {
                return Err(Error::input(
                    Location::file(&name).at_line(i + 1).at_path("t"),
                    format!("time goes backwards ({} after {})", snap.t, prev.t),
                ));
            }
        }
        history.push_back(snap);
        if history.len() > args.history {
            history.pop_front();
        }
        let snaps: Vec<LoadSnapshot> = history.iter().cloned().collect();
        let series = Series::from_snapshots(&snaps);
        let next = predict(method, &series.values);
        let n = series.t.len();
        let step = if n > 1 { series.t[n - 1] - series.t[n - 2] } else { 0.0 };
        write_ndjson_line(&mut out, &series.snapshot(series.t[n - 1] + step, &next))?;
    }
    if history.is_empty() {
        return Err(Error::input(Location::file(name), "no load snapshot in the stream"));
    }
    Ok(Status::Done)
}

fn run_evaluate(s: &Settings, history: usize) -> Result<Status> {
    let snaps = crate::inputs::read_load_stream(&s.source)?;
    if snaps.len() < 2 {
        return Err(Error::input(
            Location::file(s.source.name()),
            "--evaluate needs at least 2 load snapshots",
        ));
    }
    let series = Series::from_snapshots(&snaps);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut scores = Vec::new();
    for &m in &s.methods {
        let errors = evaluate(m, &series, history);
        for e in &errors {
            write_ndjson_line(&mut out, &crate::io::rounded(&Record::Window(e))?)?;
        }
        scores.push(summarise(m, &errors));
    }
    let best = scores
        .iter()
        .min_by(|a, b| a.mae.total_cmp(&b.mae))
        .map_or("last", |b| b.method);
    write_ndjson_line(
        &mut out,
        &crate::io::rounded(&Record::Summary { methods: &scores, best })?,
    )?;
    Ok(Status::Done)
}
