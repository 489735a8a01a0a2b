//! Regenerate the paper's Figs. 5–10 (NETbalance, Grau et al.) with our cost
//! model and placer: for each figure a CSV and a Markdown table plus SVG and
//! PNG plots in the output directory. `fig9-post-copy` is Fig. 9 again with
//! moves priced post-copy (model §3.1), beside the paper's stop-and-copy one.
//!
//!     cargo run --release --example paper -- [--runs N] [--moves-per-s M] [--out DIR] [fig5 … fig10, fig9-post-copy]
//!
//! Sweeps use `--runs` seeds per point (default 5; the Makefile passes 3; the paper: 30) and
//! `--moves-per-s` for the optimiser budget T_o × M (default: see README).
//! Progress goes to stderr.

use netbalance::model::MigrationMode;
use netbalance::plot::Frame;
use netbalance::simulate::experiment::Experiment;
use netbalance::simulate::plot::{self, Series, XAxis};
use netbalance::simulate::report::Statistics;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Options {
    runs: usize,
    moves_per_s: f64,
    out: PathBuf,
    threads: usize,
    figures: Vec<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        runs: 5,
        moves_per_s: netbalance::simulate::experiment::DEFAULT_MOVES_PER_S,
        out: PathBuf::from("out"),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        figures: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--moves-per-s" => {
                o.moves_per_s = value("--moves-per-s")?
                    .parse()
                    .map_err(|e| format!("--moves-per-s: {e}"))?
            }
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--threads" => o.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            f if f.starts_with("fig") => o.figures.push(f.to_string()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.figures.is_empty() {
        o.figures = (5..=10).map(|i| format!("fig{i}")).collect();
        o.figures.insert(5, "fig9-post-copy".to_string());
    }
    Ok(o)
}

/// One point of a sweep: a series name, an x value and the experiment.
struct Point {
    series: String,
    x: f64,
    experiment: Experiment,
}

struct Figure {
    name: &'static str,
    title: &'static str,
    x_label: &'static str,
    /// The paper's reported relative-runtime range, shaded on the plot.
    band: Option<(f64, f64)>,
    /// The swept values double from point to point: a log axis spaces them evenly.
    x_axis: XAxis,
    points: Vec<Point>,
}

fn run_point(p: &Point, o: &Options) -> Option<Statistics> {
    let started = std::time::Instant::now();
    match p.experiment.run(o.runs, o.threads, &|| {}) {
        Ok((_, s)) => {
            eprintln!(
                "  {:<10} x={:<6} relative {:.3} ± {:.3}  ({:.1} s)",
                p.series,
                p.x,
                s.relative_runtime.mean,
                s.relative_runtime.stddev,
                started.elapsed().as_secs_f64()
            );
            Some(s)
        }
        Err(e) => {
            eprintln!("  {:<10} x={:<6} skipped: {e}", p.series, p.x);
            None
        }
    }
}

fn write(path: &Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("{}: {e}", path.display());
        std::process::exit(2);
    }
}

fn sweep(f: Figure, o: &Options) {
    eprintln!("{}: {}", f.name, f.title);
    let mut csv = String::from("series,x,relative_mean,relative_stddev,runtime_with_mean_s,runtime_without_mean_s,migrations_mean,runs,moves_per_window\n");
    let mut md = format!("{}\n\n| series | {} | relative runtime | with (s) | without (s) | migrations | runs |\n|---|---|---|---|---|---|---|\n", f.title, f.x_label);
    let mut series: Vec<Series> = Vec::new();
    for p in &f.points {
        let Some(s) = run_point(p, o) else {
            let _ = writeln!(
                md,
                "| {} | {} | (not run: topology unavailable) | | | | |",
                p.series, p.x
            );
            continue;
        };
        let r = s.relative_runtime;
        let _ = writeln!(
            csv,
            "{},{},{:.4},{:.4},{:.1},{:.1},{:.2},{},{}",
            p.series,
            p.x,
            r.mean,
            r.stddev,
            s.runtime_with_s.mean,
            s.runtime_without_s.mean,
            s.migrations.mean,
            s.runs,
            s.parameters.moves
        );
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} ± {:.3} | {:.0} | {:.0} | {:.1} | {} |",
            p.series, p.x, r.mean, r.stddev, s.runtime_with_s.mean, s.runtime_without_s.mean, s.migrations.mean, s.runs
        );
        match series.iter_mut().find(|x| x.name == p.series) {
            Some(x) => x.points.push((p.x, r.mean, r.stddev)),
            None => series.push(Series {
                name: p.series.clone(),
                points: vec![(p.x, r.mean, r.stddev)],
            }),
        }
    }
    write(&o.out.join(format!("{}.csv", f.name)), &csv);
    write(&o.out.join(format!("{}.md", f.name)), &md);
    for ext in ["svg", "png"] {
        let path = o.out.join(format!("{}.{ext}", f.name));
        if let Err(e) = plot::sweep(&path, f.x_label, &series, f.band, f.x_axis, Frame::new(plot::SIZE)) {
            eprintln!("{}: {e}", path.display());
        }
    }
}

/// `costs` with the post-copy constants `calibrate --migration post-copy`
/// measured on the development machine (calibrated-post-copy.json, which
/// says how); the other constants stay the paper's.
fn calibrated_post_copy(costs: &netbalance::model::Costs) -> netbalance::model::Costs {
    #[derive(serde::Deserialize)]
    struct Calibrated {
        post_copy: netbalance::model::PostCopyCosts,
    }
    let c: Calibrated = serde_json::from_str(include_str!("calibrated-post-copy.json"))
        .expect("examples/paper/calibrated-post-copy.json is a costs profile's post_copy");
    netbalance::model::Costs {
        post_copy: c.post_copy,
        ..costs.clone()
    }
}

fn base(o: &Options) -> Experiment {
    Experiment {
        moves_per_s: o.moves_per_s,
        ..Experiment::default()
    }
}

fn fig5(o: &Options) {
    eprintln!("fig5: τ over time, one run (grid 40×40, 8×8 CPUs, T_p 10 s, T_o 1 s)");
    let e = base(o);
    let (results, s) = match e.run(1, 1, &|| {}) {
        Ok(x) => x,
        Err(err) => return eprintln!("  failed: {err}"),
    };
    let r = &results[0];
    let mut csv = String::from("t,length_s,epoch,sink,tau_baseline,tau_now,tau_actual,decision,reason,t_r\n");
    for w in &r.windows {
        let x = &w.record;
        let _ = writeln!(
            csv,
            "{},{},{},{},{:.4},{:.4},{:.4},{:?},{:?},{:.3}",
            x.t, x.length_s, w.epoch, w.sink, x.tau_baseline, x.tau_now, x.tau_actual, x.decision, x.reason, x.t_r
        );
    }
    write(&o.out.join("fig5.csv"), &csv);
    let mut md = String::from(
        "| epoch | sink | τ without (window mean) | τ with (window mean) | T_r paid (s) |\n|---|---|---|---|---|\n",
    );
    for w in r
        .windows
        .iter()
        .filter(|w| netbalance::simulate::drive::optimised(&w.record) || w.record.t == 0.0)
    {
        let x = &w.record;
        let paid = if x.decision == netbalance::balance::Decision::Changed {
            x.t_r
        } else {
            0.0
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {:.3} | {:.3} |",
            w.epoch, w.sink, x.tau_baseline, x.tau_actual, paid
        );
    }
    let _ = writeln!(
        md,
        "\nruntime with {:.0} s, without {:.0} s: relative {:.3}",
        r.runtime_with(),
        r.runtime_without(),
        s.relative_runtime.mean
    );
    write(&o.out.join("fig5.md"), &md);
    for ext in ["svg", "png"] {
        let path = o.out.join(format!("fig5.{ext}"));
        if let Err(err) = plot::tau_over_time(&path, r, e.window.to, Frame::new(plot::SIZE)) {
            eprintln!("{}: {err}", path.display());
        }
    }
    eprintln!("  relative {:.3}", s.relative_runtime.mean);
}

const TOPOLOGIES: [&str; 4] = ["grid", "waxman", "campus", "internet"];

fn figure(name: &str, o: &Options) -> Option<Figure> {
    let b = base(o);
    let pts = |series: &str, xs: &[f64], f: &dyn Fn(f64) -> Experiment| -> Vec<Point> {
        xs.iter()
            .map(|&x| Point {
                series: series.to_string(),
                x,
                experiment: f(x),
            })
            .collect()
    };
    // Fig. 9's sweep from experiment `e`: SuT memory 10/50/100 MB over T_p.
    let memory_sweep = |e: &Experiment| -> Vec<Point> {
        [10.0, 50.0, 100.0]
            .iter()
            .flat_map(|&m| {
                pts(&format!("{m} MB"), &[2.0, 4.0, 8.0, 16.0], &|tp| Experiment {
                    memory_mb: m,
                    window: netbalance::cost::Window { tp, to: 1.0 },
                    ..e.clone()
                })
            })
            .collect()
    };
    Some(match name {
        "fig6" => Figure {
            name: "fig6",
            title: "Fig. 6: relative runtime vs T_o (sink change every 10 s, T_p 10 s)",
            x_label: "T_o (s)",
            band: None,
            x_axis: XAxis::Log,
            points: pts("grid", &[0.125, 0.25, 0.5, 1.0], &|to| Experiment {
                window: netbalance::cost::Window { tp: 10.0, to },
                epoch_s: 10.0,
                ..b.clone()
            }),
        },
        "fig7" => Figure {
            name: "fig7",
            title: "Fig. 7: relative runtime vs T_p (T_o 1 s)",
            x_label: "T_p (s)",
            band: Some((0.45, 0.73)),
            x_axis: XAxis::Log,
            points: TOPOLOGIES
                .iter()
                .flat_map(|t| {
                    pts(t, &[2.0, 4.0, 8.0, 16.0, 32.0], &|tp| Experiment {
                        topology: t.to_string(),
                        window: netbalance::cost::Window { tp, to: 1.0 },
                        ..b.clone()
                    })
                })
                .collect(),
        },
        "fig8" => Figure {
            name: "fig8",
            title: "Fig. 8: relative runtime vs testbed size (8 CPUs per host)",
            x_label: "CPUs",
            band: Some((0.30, 0.50)),
            x_axis: XAxis::Log,
            points: pts("grid", &[16.0, 32.0, 64.0, 128.0, 256.0], &|cpus| Experiment {
                hosts: cpus as usize / 8,
                cpus: 8,
                ..b.clone()
            }),
        },
        "fig9" => Figure {
            name: "fig9",
            title: "Fig. 9: relative runtime vs T_p for SuT memory 10/50/100 MB",
            x_label: "T_p (s)",
            band: None,
            x_axis: XAxis::Log,
            points: memory_sweep(&b),
        },
        "fig9-post-copy" => Figure {
            name: "fig9-post-copy",
            title: "Fig. 9, post-copy (not in the paper): relative runtime vs T_p for SuT memory 10/50/100 MB, moves priced post-copy (model §3.1)",
            x_label: "T_p (s)",
            band: None,
            x_axis: XAxis::Log,
            points: memory_sweep(&Experiment {
                migration: MigrationMode::PostCopy,
                costs: calibrated_post_copy(&b.costs),
                ..b.clone()
            }),
        },
        "fig10" => Figure {
            name: "fig10",
            title: "Fig. 10: relative runtime vs data rate R",
            x_label: "R (Mbit/s per vnode)",
            band: None,
            x_axis: XAxis::Log,
            points: pts("grid", &[2.5, 5.0, 10.0, 20.0], &|rate| Experiment {
                rate_mbps: rate,
                ..b.clone()
            }),
        },
        _ => return None,
    })
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("paper: {e}\nusage: cargo run --release --example paper -- [--runs N] [--moves-per-s M] [--out DIR] [--threads N] [fig5 … fig10, fig9-post-copy]");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&o.out) {
        eprintln!("{}: {e}", o.out.display());
        std::process::exit(2);
    }
    eprintln!("runs per point {}, moves per second of T_o {}", o.runs, o.moves_per_s);
    for f in &o.figures {
        let started = std::time::Instant::now();
        if f == "fig5" {
            fig5(&o);
        } else if let Some(fig) = figure(f, &o) {
            sweep(fig, &o);
        } else {
            eprintln!("unknown figure {f:?} (fig5 … fig10, fig9-post-copy)");
            std::process::exit(2);
        }
        eprintln!("  {f} done in {:.0} s", started.elapsed().as_secs_f64());
    }
}
