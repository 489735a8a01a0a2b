//! `netbalance predict`: read an NDJSON load stream, write the predicted
//! load for the next window after every snapshot (LoadSnapshot shape, so
//! `place` and `cost` take it as `--load`); `--evaluate` scores predictors
//! on a recorded stream instead.

use super::Status;
use crate::cli::{PredictorArgs, PredictorKind};
use crate::error::{Error, Location, Result};
use crate::io::{write_ndjson_line, Source};
use crate::model::LoadSnapshot;
use crate::predict::score::{evaluate, summarise, MethodScore, WindowError};
use crate::predict::{predict, Method, Series};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance monitor --interval 1 | netbalance predict | netbalance place --placement cur.json\n  netbalance predict --predictor ewma --alpha 0.3 --load loads.ndjson | tail -n 1 > next.json\n  netbalance predict --evaluate --load recorded.ndjson | tail -n 1"
)]
pub struct Args {
    /// Load snapshots (NDJSON) [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub predictor: PredictorArgs,
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
        let p = &args.predictor;
        p.check()?;
        let methods = match p.predictor {
            Some(kind) => vec![p.method(kind)],
            None if args.evaluate => [PredictorKind::Last, PredictorKind::Ewma, PredictorKind::Periodic]
                .map(|k| p.method(k))
                .to_vec(),
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
        return run_evaluate(&s, args.predictor.history);
    }
    let method = s.methods[0];
    let name = s.source.name();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut history: std::collections::VecDeque<LoadSnapshot> = std::collections::VecDeque::new();
    let mut step = |snap: LoadSnapshot, out: &mut std::io::StdoutLock| -> Result<()> {
        history.push_back(snap);
        if history.len() > args.predictor.history {
            history.pop_front();
        }
        let snaps: Vec<LoadSnapshot> = history.iter().cloned().collect();
        let series = Series::from_snapshots(&snaps);
        let next = predict(method, &series.values);
        let n = series.t.len();
        let step = if n > 1 { series.t[n - 1] - series.t[n - 2] } else { 0.0 };
        write_ndjson_line(out, &series.snapshot(series.t[n - 1] + step, &next))
    };
    let mut count = 0usize;
    match &s.source {
        // A file is checked whole before the first line is printed.
        Source::File(_) => {
            let snaps = crate::inputs::read_load_stream(&s.source)?;
            check_time_order(&snaps, &name)?;
            for snap in snaps {
                step(snap, &mut out)?;
                count += 1;
            }
        }
        // A (live) stream is answered line by line.
        Source::Stdin => {
            let heard = crate::inputs::notice_if_silent("predict", "load snapshots (NDJSON)", "--load FILE");
            let mut prev_t = None;
            for (i, line) in crate::io::capped_lines(std::io::stdin().lock()).enumerate() {
                let line = line.map_err(|e| Error::io(name.clone(), e))?;
                if line.trim().is_empty() {
                    continue;
                }
                heard.store(true, std::sync::atomic::Ordering::Relaxed);
                let snap = crate::model::load::parse_snapshot_line(&line, &name, i + 1)?;
                if let Some(prev) = prev_t.filter(|&p| snap.t < p) {
                    return Err(Error::input(
                        Location::file(&name).at_line(i + 1).at_path("t"),
                        format!("time goes backwards ({} after {prev})", snap.t),
                    ));
                }
                prev_t = Some(snap.t);
                step(snap, &mut out)?;
                count += 1;
            }
        }
    }
    if count == 0 {
        return Err(Error::input(Location::file(name), "no load snapshot in the stream"));
    }
    Ok(Status::Done)
}

/// Snapshots must not go back in time (the same rule for a stream, a file and `--evaluate`).
fn check_time_order(snaps: &[LoadSnapshot], name: &str) -> Result<()> {
    for (i, w) in snaps.windows(2).enumerate() {
        if w[1].t < w[0].t {
            return Err(Error::input(
                Location::file(name).at_path(format!("snapshot {}: t", i + 2)),
                format!("time goes backwards ({} after {})", w[1].t, w[0].t),
            ));
        }
    }
    Ok(())
}

fn run_evaluate(s: &Settings, history: usize) -> Result<Status> {
    let snaps = crate::inputs::read_load_stream(&s.source)?;
    if snaps.len() < 2 {
        return Err(Error::input(
            Location::file(s.source.name()),
            "--evaluate needs at least 2 load snapshots",
        ));
    }
    check_time_order(&snaps, &s.source.name())?;
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
