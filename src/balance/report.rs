//! The run's report, like the paper's Fig. 5: τ over time with NETbalance
//! and with the baseline placement kept (SVG or PNG, plotters), plus a table of the
//! windows for stderr.

use super::engine::TauPoint;
use super::record::{Decision, WindowRecord};
use crate::error::Result;
use crate::plot::{legend, marker, render, Frame, Panes, Sample, LINE, PALETTE};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// The default size of the plot.
pub const SIZE: (u32, u32) = (960, 480);

/// Draw τ over time into `path` (SVG; PNG when the name ends in `.png`)
/// in the one plot style ([`crate::plot`]): `points` are step starts (τ
/// holds until the next point, the last until `t_end`); `changes` are
/// migration instants.
pub fn write_plot(path: &Path, points: &[TauPoint], t_end: f64, changes: &[f64], frame: Frame) -> Result<()> {
    render(
        path,
        frame,
        |p| draw(p, points, t_end, changes),
        |p| draw(p, points, t_end, changes),
    )
}

fn draw<DB: DrawingBackend>(
    p: &Panes<DB>,
    points: &[TauPoint],
    t_end: f64,
    changes: &[f64],
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let t0 = points.first().map_or(0.0, |p| p.t);
    let t1 = t_end.max(t0 + 1e-9);
    let top = points
        .iter()
        .map(|p| p.tau.max(p.tau_baseline))
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.15;
    let mut chart = ChartBuilder::on(&p.data)
        .margin(p.px(12))
        .x_label_area_size(p.px(44))
        .y_label_area_size(p.px(56))
        .build_cartesian_2d(t0..t1, 0.0..top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .label_style(p.font())
        .axis_desc_style(p.font())
        .x_desc("time (s)")
        .y_desc("time dilation factor τ")
        .draw()
        .map_err(e)?;
    let steps = |f: fn(&TauPoint) -> f64| -> Vec<(f64, f64)> {
        let mut v = Vec::with_capacity(points.len() * 2);
        for (i, p) in points.iter().enumerate() {
            let next = points.get(i + 1).map_or(t1, |q| q.t);
            v.push((p.t, f(p)));
            v.push((next, f(p)));
        }
        v
    };
    let line = |c: RGBColor| ShapeStyle::from(&c).stroke_width(p.px(LINE));
    chart
        .draw_series(LineSeries::new(steps(|p| p.tau_baseline), line(PALETTE[1])))
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(steps(|p| p.tau), line(PALETTE[0])))
        .map_err(e)?;
    let base = p.data.get_base_pixel();
    let marks: Vec<(i32, i32)> = changes.iter().map(|&t| chart.backend_coord(&(t, top * 0.97))).collect();
    for (x, y) in marks {
        marker(&p.data, (x - base.0, y - base.1), 1, p.px(5) as i32, PALETTE[6])?;
    }
    legend(
        p,
        &[
            ("without re-placement".into(), Sample::Line(PALETTE[1], None)),
            ("with NETbalance".into(), Sample::Line(PALETTE[0], None)),
            ("migration".into(), Sample::Marker(PALETTE[6], 1)),
        ],
    )
}

/// A table of the windows, for people (stderr).
pub fn table(records: &[WindowRecord]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>5}  DECISION",
        "WINDOW", "T", "TAU_NOW", "TAU_ACT", "TAU_BASE", "T_R", "CHI", "MOVES"
    );
    for r in records {
        let decision = match r.decision {
            Decision::Changed => "changed".to_string(),
            Decision::Kept => format!(
                "kept ({})",
                serde_json::to_value(r.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(
            s,
            "{:>6} {:>9.1} {:>9.4} {:>9.4} {:>9.4} {:>8.3} {:>10.3} {:>5}  {}",
            r.window,
            r.t,
            r.tau_now,
            r.tau_actual,
            r.tau_baseline,
            r.t_r,
            r.chi.unwrap_or(0.0),
            r.moved.len(),
            decision
        );
    }
    s
}
