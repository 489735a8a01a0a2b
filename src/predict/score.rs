//! Scoring predictors on a recorded stream: for every snapshot i ≥ 1,
//! predict it from snapshots 0..i and measure the error.

use super::{predict, sketch, LagTable, Method, Series, Sketch};
use serde::Serialize;

/// The error of one method on one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowError {
    pub method: &'static str,
    /// Index and time of the predicted snapshot.
    pub index: usize,
    pub t: f64,
    /// Mean absolute error over all keys.
    pub mae: f64,
    /// Σ|error| / Σ|actual| (absent when the actual load is all 0).
    pub relative: Option<f64>,
    #[serde(skip)]
    abs_error: f64,
    #[serde(skip)]
    total: f64,
}

/// Per-method means over all windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodScore {
    pub method: &'static str,
    pub windows: usize,
    pub mae: f64,
    /// Σ|error| / Σ|actual| over all windows.
    pub relative: f64,
}

/// Errors of `method` predicting each snapshot from the (at most `history`)
/// ones before it. Complexity: O(n·k) for last value, O(n·h·k) for EWMA
/// (h = history), O(n·(k + L·S)) for periodic (one [`LagTable`]).
pub fn evaluate(method: Method, series: &Series, history: usize) -> Vec<WindowError> {
    // the periodic method's lag search runs on one table for the whole stream
    let table = match method {
        Method::Periodic { max_lag } => {
            let sketches: Vec<Sketch> = series.values.iter().map(|x| sketch(x)).collect();
            Some(LagTable::new(&sketches, max_lag))
        }
        _ => None,
    };
    (1..series.values.len())
        .map(|i| {
            let from = i.saturating_sub(history.max(1));
            let guess = match &table {
                Some(t) => series.values[i - t.best(from, i).unwrap_or(1)].clone(),
                None => predict(method, &series.values[from..i]),
            };
            let actual = &series.values[i];
            let abs: f64 = guess.iter().zip(actual).map(|(g, a)| (g - a).abs()).sum();
            let total: f64 = actual.iter().map(|a| a.abs()).sum();
            WindowError {
                method: method.name(),
                index: i,
                t: series.t[i],
                mae: if actual.is_empty() {
                    0.0
                } else {
                    abs / actual.len() as f64
                },
                relative: (total > 0.0).then(|| abs / total),
                abs_error: abs,
                total,
            }
        })
        .collect()
}

/// Mean errors of a method's windows.
pub fn summarise(method: Method, errors: &[WindowError]) -> MethodScore {
    let n = errors.len();
    let mean = |f: &dyn Fn(&WindowError) -> f64| {
        if n == 0 {
            0.0
        } else {
            errors.iter().map(f).sum::<f64>() / n as f64
        }
    };
    let (abs, total) = errors
        .iter()
        .fold((0.0, 0.0), |(a, t), e| (a + e.abs_error, t + e.total));
    let relative = if total > 0.0 { abs / total } else { 0.0 };
    MethodScore {
        method: method.name(),
        windows: n,
        mae: mean(&|e| e.mae),
        relative,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: Vec<Vec<f64>>) -> Series {
        Series {
            keys: Vec::new(),
            t: (0..values.len()).map(|i| i as f64).collect(),
            values,
        }
    }

    #[test]
    fn last_value_is_exact_on_a_constant_stream() {
        let s = series(vec![vec![2.0, 3.0]; 5]);
        assert!(evaluate(Method::Last, &s, 100).iter().all(|e| e.mae == 0.0));
    }

    #[test]
    fn periodic_beats_last_on_a_repeating_pattern() {
        let pattern = [1.0, 1.0, 9.0, 4.0];
        let s = series((0..40).map(|i| vec![pattern[i % 4], 10.0 - pattern[i % 4]]).collect());
        let last = summarise(Method::Last, &evaluate(Method::Last, &s, 1000));
        let periodic = summarise(
            Method::Periodic { max_lag: 16 },
            &evaluate(Method::Periodic { max_lag: 16 }, &s, 1000),
        );
        assert!(last.mae > 1.0, "{last:?}");
        // once two periods are seen, every prediction is exact
        let errs = evaluate(Method::Periodic { max_lag: 16 }, &s, 1000);
        assert!(errs[8..].iter().all(|e| e.mae == 0.0), "{errs:?}");
        assert!(periodic.mae < last.mae / 4.0);
    }

    #[test]
    fn periodic_falls_back_to_last_value_without_a_period() {
        // a step change and no repetition: periodic must equal last value
        let s = series((0..30).map(|i| vec![if i < 17 { 1.0 } else { 5.0 }]).collect());
        let a = evaluate(Method::Last, &s, 1000);
        let b = evaluate(Method::Periodic { max_lag: 16 }, &s, 1000);
        assert_eq!(
            a.iter().map(|e| e.mae).collect::<Vec<_>>(),
            b.iter().map(|e| e.mae).collect::<Vec<_>>()
        );
    }

    #[test]
    fn ewma_smooths_a_spike() {
        let s = series(vec![vec![0.0], vec![0.0], vec![10.0], vec![0.0]]);
        let e = evaluate(Method::Ewma { alpha: 0.5 }, &s, 1000);
        // predicting index 3 from [0, 0, 10]: 5, actual 0
        assert_eq!(e[2].mae, 5.0);
    }
}

#[cfg(test)]
mod agree {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The stream-wide lag table predicts exactly what `predict` does on each history.
        #[test]
        fn evaluate_matches_predict_on_each_history(
            values in prop::collection::vec(prop::collection::vec(0u8..4, 3), 2..40), history in 1usize..30,
        ) {
            let values: Vec<Vec<f64>> = values.into_iter().map(|v| v.into_iter().map(f64::from).collect()).collect();
            let s = Series { keys: Vec::new(), t: (0..values.len()).map(|i| i as f64).collect(), values };
            let m = Method::Periodic { max_lag: 8 };
            for e in evaluate(m, &s, history) {
                let from = e.index.saturating_sub(history);
                let guess = predict(m, &s.values[from..e.index]);
                let abs: f64 = guess.iter().zip(&s.values[e.index]).map(|(g, a)| (g - a).abs()).sum();
                prop_assert!((e.abs_error - abs).abs() < 1e-9);
            }
        }
    }
}
