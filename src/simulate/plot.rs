//! Plots of the paper's evaluation in the one style of [`crate::plot`]:
//! τ over time for one run (the paper's Fig. 5) and relative runtime over
//! a swept parameter (Figs. 6–10), SVG or PNG by the file's extension.

use super::drive::RunResult;
use crate::balance::Decision;
use crate::error::Result;
use crate::plot::{legend, marker, render, Frame, Panes, Sample, LINE, PALETTE};
use plotters::prelude::*;
use std::path::Path;

/// The default size of both figures.
pub const SIZE: (u32, u32) = (960, 500);

/// τ over virtual time for one run, with and without NETbalance (Fig. 5);
/// migrations are marked.
pub fn tau_over_time(path: &Path, r: &RunResult, to: f64, frame: Frame) -> Result<()> {
    render(path, frame, |p| draw_tau(p, r, to), |p| draw_tau(p, r, to))
}

fn draw_tau<DB: DrawingBackend>(p: &Panes<DB>, r: &RunResult, to: f64) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let t_max = r.windows.last().map_or(1.0, |w| w.record.t + w.record.length_s);
    let y_max = r.tau.iter().map(|q| q.tau.max(q.tau_baseline)).fold(0.0, f64::max) * 1.1 + 1e-9;
    let mut chart = ChartBuilder::on(&p.data)
        .margin(p.px(12))
        .x_label_area_size(p.px(44))
        .y_label_area_size(p.px(56))
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .label_style(p.font())
        .axis_desc_style(p.font())
        .x_desc("virtual time (s)")
        .y_desc("time dilation factor τ")
        .draw()
        .map_err(e)?;
    // step lines: each τ holds from its point to the next
    let steps = |f: &dyn Fn(&crate::balance::TauPoint) -> f64| -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        for (i, q) in r.tau.iter().enumerate() {
            let end = r.tau.get(i + 1).map_or(t_max, |n| n.t);
            pts.extend([(q.t, f(q)), (end, f(q))]);
        }
        pts
    };
    // τ with NETbalance at `t` (the point in force then)
    let tau_at = |t: f64| r.tau.iter().rev().find(|q| q.t <= t + 1e-9).map_or(0.0, |q| q.tau);
    let (without, with) = (PALETTE[1], PALETTE[0]);
    let line = |c: RGBColor| ShapeStyle::from(&c).stroke_width(p.px(LINE));
    chart
        .draw_series(LineSeries::new(steps(&|q| q.tau_baseline), line(without)))
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(steps(&|q| q.tau), line(with)))
        .map_err(e)?;
    let moves: Vec<(i32, i32)> = r
        .windows
        .iter()
        .filter(|w| w.record.decision == Decision::Changed)
        .map(|w| {
            let at = (w.record.t + to).min(t_max);
            chart.backend_coord(&(at, tau_at(at)))
        })
        .collect();
    let base = p.data.get_base_pixel();
    for (x, y) in moves {
        marker(&p.data, (x - base.0, y - base.1), 1, p.px(5) as i32, PALETTE[6])?;
    }
    legend(
        p,
        &[
            ("without NETbalance".into(), Sample::Line(without, None)),
            ("with NETbalance".into(), Sample::Line(with, None)),
            ("migration".into(), Sample::Marker(PALETTE[6], 1)),
        ],
    )
}

/// One line of a sweep plot: (x, mean, stddev) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// How a sweep's x axis is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Linear,
    /// Logarithmic (powers of 2 such as T_p = 2, 4, …, 32 s are evenly spaced).
    Log,
}

/// Relative runtime (mean ± stddev) over a swept parameter, one line and
/// marker per series, with the paper's reported band shaded when given.
pub fn sweep(
    path: &Path,
    x_label: &str,
    series: &[Series],
    band: Option<(f64, f64)>,
    x_axis: XAxis,
    frame: Frame,
) -> Result<()> {
    render(
        path,
        frame,
        |p| draw_sweep(p, x_label, series, band, x_axis),
        |p| draw_sweep(p, x_label, series, band, x_axis),
    )
}

fn draw_sweep<DB: DrawingBackend>(
    p: &Panes<DB>,
    x_label: &str,
    series: &[Series],
    band: Option<(f64, f64)>,
    x_axis: XAxis,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x_min, x_max) = if x_min.is_finite() {
        (x_min, x_max.max(x_min + 1e-9))
    } else {
        (1.0, 2.0)
    };
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1 + p.2))
        .fold(1.1, f64::max);
    let mut entries = Vec::new();
    if band.is_some() {
        entries.push((
            "paper's reported range".to_string(),
            Sample::Band(RGBColor(215, 215, 215)),
        ));
    }
    for (i, s) in series.iter().enumerate() {
        entries.push((s.name.clone(), Sample::Line(PALETTE[i % PALETTE.len()], Some(i))));
    }
    // A log axis is a linear one over log2(x), labelled with x.
    let tx = |x: f64| if x_axis == XAxis::Log { x.log2() } else { x };
    let (lo, hi) = match x_axis {
        XAxis::Log => (tx(x_min) - 0.3, tx(x_max) + 0.3),
        XAxis::Linear => {
            let pad = (x_max - x_min) * 0.05;
            (x_min - pad, x_max + pad)
        }
    };
    let label = |v: &f64| {
        let x = if x_axis == XAxis::Log { v.exp2() } else { *v };
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let mut chart = ChartBuilder::on(&p.data)
        .margin(p.px(12))
        .x_label_area_size(p.px(44))
        .y_label_area_size(p.px(56))
        .build_cartesian_2d(lo..hi, 0.0..y_max)
        .map_err(e)?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE)
        .label_style(p.font())
        .axis_desc_style(p.font())
        .x_desc(x_label)
        .x_label_formatter(&label)
        .y_desc("relative runtime (with / without)");
    if x_axis == XAxis::Log {
        // one tick per power of two in range
        mesh.x_labels(((hi.floor() - lo.ceil()) as usize + 1).max(2));
    }
    mesh.draw().map_err(e)?;
    if let Some((b_lo, b_hi)) = band {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(lo, b_lo), (hi, b_hi)],
                RGBColor(215, 215, 215).filled(),
            )))
            .map_err(e)?;
    }
    let mut marks = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|q| (tx(q.0), q.1)),
                ShapeStyle::from(&c).stroke_width(p.px(LINE)),
            ))
            .map_err(e)?;
        chart
            .draw_series(s.points.iter().map(|&(x, m, sd)| {
                PathElement::new(
                    vec![(tx(x), m - sd), (tx(x), m + sd)],
                    ShapeStyle::from(&c).stroke_width(p.px(1)),
                )
            }))
            .map_err(e)?;
        marks.extend(
            s.points
                .iter()
                .map(|&(x, m, _)| (chart.backend_coord(&(tx(x), m)), i, c)),
        );
    }
    let base = p.data.get_base_pixel();
    for ((x, y), i, c) in marks {
        marker(&p.data, (x - base.0, y - base.1), i, p.px(4) as i32, c)?;
    }
    legend(p, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both backends draw a sweep on a log axis (a PNG needs the font).
    #[test]
    fn sweeps_render_on_a_log_axis() {
        if crate::plot_font::ensure_font().is_err() {
            eprintln!("skipped: no TrueType font");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let series = vec![
            Series {
                name: "grid".into(),
                points: vec![
                    (2.0, 0.5, 0.05),
                    (4.0, 0.41, 0.04),
                    (8.0, 0.39, 0.04),
                    (32.0, 0.36, 0.03),
                ],
            },
            Series {
                name: "NETbalance".into(),
                points: vec![(2.0, 0.9, 0.02), (32.0, 0.8, 0.02)],
            },
        ];
        for ext in ["svg", "png"] {
            let path = dir.join(format!("sweep-test.{ext}"));
            sweep(
                &path,
                "T_p (s)",
                &series,
                Some((0.45, 0.73)),
                XAxis::Log,
                Frame::new(SIZE),
            )
            .unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        }
        let svg = std::fs::read_to_string(dir.join("sweep-test.svg")).unwrap();
        if let Some(keep) = std::env::var_os("NETBALANCE_KEEP_PLOTS") {
            for ext in ["svg", "png"] {
                std::fs::copy(
                    dir.join(format!("sweep-test.{ext}")),
                    std::path::Path::new(&keep).join(format!("sweep-test.{ext}")),
                )
                .unwrap();
            }
        }
        // SVG text elements hold their text on a line of its own
        let texts: Vec<&str> = svg.lines().map(str::trim).collect();
        for tick in ["2", "4", "8", "16", "32"] {
            assert!(texts.contains(&tick), "no tick {tick}");
        }
    }
}
