//! The run's report, like the paper's Fig. 5: τ over time with NETbalance
//! and with the baseline placement kept (SVG or PNG, plotters), plus a table of the
//! windows for stderr.

use super::engine::TauPoint;
use super::record::{Decision, WindowRecord};
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// Draw τ over time into `path` (SVG; PNG when the name ends in `.png`):
/// `points` are step starts (τ holds until the next point, the last until
/// `t_end`); `changes` are migration instants.
pub fn write_plot(path: &Path, points: &[TauPoint], t_end: f64, changes: &[f64]) -> Result<()> {
    crate::plot_font::ensure_font()?;
    let fail = |e: String| Error::io(path.display().to_string(), std::io::Error::other(e));
    let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if png {
        let root = BitMapBackend::new(path, (960, 480)).into_drawing_area();
        draw(&root, points, t_end, changes).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))
    } else {
        let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
        draw(&root, points, t_end, changes).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
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
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption("time dilation factor τ over time", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(t0..t1, 0.0..top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("τ")
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
    chart
        .draw_series(LineSeries::new(steps(|p| p.tau_baseline), RED.stroke_width(2)))
        .map_err(e)?
        .label("without re-placement (baseline)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(steps(|p| p.tau), BLUE.stroke_width(2)))
        .map_err(e)?
        .label("with netbalance")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(
            changes
                .iter()
                .map(|&t| TriangleMarker::new((t, top * 0.97), 6, BLACK.filled())),
        )
        .map_err(e)?
        .label("migration")
        .legend(|(x, y)| TriangleMarker::new((x + 10, y), 5, BLACK.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    Ok(())
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
