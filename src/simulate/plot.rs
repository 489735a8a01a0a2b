//! Plots with plotters: τ over time for one run (the paper's Fig. 5) and
//! relative runtime over a swept parameter (Figs. 6–10). SVG or PNG by the
//! file's extension. Labels need a TrueType font: the first of
//! `$NETBALANCE_FONT` and the usual DejaVu/Liberation paths is used.

use super::drive::RunResult;
use crate::balance::Decision;
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

fn draw_err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), std::io::Error::other(format!("plot: {e}")))
}

/// Draw on an SVG or PNG backend chosen by `path`'s extension.
fn with_backend(
    path: &Path,
    size: (u32, u32),
    draw: impl Fn(DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String>,
    draw_png: impl Fn(DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    crate::plot_font::ensure_font()?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" => draw(SVGBackend::new(path, size).into_drawing_area()).map_err(draw_err(path)),
        "png" => draw_png(BitMapBackend::new(path, size).into_drawing_area()).map_err(draw_err(path)),
        _ => Err(Error::usage(format!(
            "{}: plot file must end in .svg or .png",
            path.display()
        ))),
    }
}

/// τ over virtual time for one run, with and without NETbalance (Fig. 5);
/// migrations are marked.
pub fn tau_over_time(path: &Path, r: &RunResult, to: f64, title: &str) -> Result<()> {
    macro_rules! body {
        ($root:expr) => {{
            let root = $root;
            let e = |x: &dyn std::fmt::Debug| format!("{x:?}");
            root.fill(&WHITE).map_err(|x| e(&x))?;
            let t_max = r.windows.last().map_or(1.0, |w| w.record.t + w.record.length_s);
            let y_max = r.tau.iter().map(|p| p.tau.max(p.tau_baseline)).fold(0.0, f64::max) * 1.1 + 1e-9;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..t_max, 0.0..y_max)
                .map_err(|x| e(&x))?;
            chart
                .configure_mesh()
                .x_desc("virtual time (s)")
                .y_desc("time dilation factor τ")
                .draw()
                .map_err(|x| e(&x))?;
            // step lines: each τ holds from its point to the next
            let steps = |f: &dyn Fn(&crate::balance::TauPoint) -> f64| -> Vec<(f64, f64)> {
                let mut pts = Vec::new();
                for (i, p) in r.tau.iter().enumerate() {
                    let end = r.tau.get(i + 1).map_or(t_max, |q| q.t);
                    pts.extend([(p.t, f(p)), (end, f(p))]);
                }
                pts
            };
            // τ with NETbalance at `t` (the point in force then)
            let tau_at = |t: f64| r.tau.iter().rev().find(|p| p.t <= t + 1e-9).map_or(0.0, |p| p.tau);
            chart
                .draw_series(LineSeries::new(steps(&|p| p.tau_baseline), RED.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label("without NETbalance")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
            chart
                .draw_series(LineSeries::new(steps(&|p| p.tau), BLUE.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label("with NETbalance")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
            chart
                .draw_series(
                    r.windows
                        .iter()
                        .filter(|w| w.record.decision == Decision::Changed)
                        .map(|w| {
                            let at = w.record.t + to;
                            Circle::new((at, tau_at(at)), 4, BLUE.filled())
                        }),
                )
                .map_err(|x| e(&x))?
                .label("migration")
                .legend(|(x, y)| Circle::new((x + 10, y), 4, BLUE.filled()));
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|x| e(&x))?;
            root.present().map_err(|x| e(&x))?;
            Ok(())
        }};
    }
    with_backend(path, (900, 500), |root| body!(root), |root| body!(root))
}

/// One line of a sweep plot: (x, mean, stddev) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// Relative runtime (mean ± stddev) over a swept parameter, one line per
/// series, with the paper's reported band shaded when given.
pub fn sweep(path: &Path, title: &str, x_label: &str, series: &[Series], band: Option<(f64, f64)>) -> Result<()> {
    const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    macro_rules! body {
        ($root:expr) => {{
            let root = $root;
            let e = |x: &dyn std::fmt::Debug| format!("{x:?}");
            root.fill(&WHITE).map_err(|x| e(&x))?;
            let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
            let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
            let (x_min, x_max) = if x_min.is_finite() {
                (x_min, x_max.max(x_min + 1e-9))
            } else {
                (0.0, 1.0)
            };
            let pad = (x_max - x_min) * 0.05;
            let y_max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1 + p.2))
                .fold(1.1, f64::max);
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((x_min - pad)..(x_max + pad), 0.0..y_max)
                .map_err(|x| e(&x))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc("relative runtime (with / without)")
                .draw()
                .map_err(|x| e(&x))?;
            if let Some((lo, hi)) = band {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x_min - pad, lo), (x_max + pad, hi)],
                        RGBColor(200, 200, 200).mix(0.4).filled(),
                    )))
                    .map_err(|x| e(&x))?
                    .label("paper's reported range")
                    .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], RGBColor(200, 200, 200).filled()));
            }
            for (i, s) in series.iter().enumerate() {
                let c = COLORS[i % COLORS.len()];
                chart
                    .draw_series(LineSeries::new(s.points.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))
                    .map_err(|x| e(&x))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&(x, m, sd)| PathElement::new(vec![(x, m - sd), (x, m + sd)], c.stroke_width(1))),
                    )
                    .map_err(|x| e(&x))?;
                chart
                    .draw_series(s.points.iter().map(|&(x, m, _)| Circle::new((x, m), 3, c.filled())))
                    .map_err(|x| e(&x))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|x| e(&x))?;
            root.present().map_err(|x| e(&x))?;
            Ok(())
        }};
    }
    with_backend(path, (800, 500), |root| body!(root), |root| body!(root))
}
