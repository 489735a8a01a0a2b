//! The prediction of a window's load from the samples seen so far. The
//! default, and the paper's choice (model §4), is the last measured value;
//! [`Forecast`] puts the methods of [`crate::predict`] behind the trait.

use super::source::Sample;
use crate::cost::Load;

/// Predicts the next window's load.
pub trait Predictor {
    /// A new sample (oldest first).
    fn observe(&mut self, sample: &Sample);
    /// The load expected over the next window; `None` before any sample.
    fn predict(&self) -> Option<Load>;
}

/// The last value.
#[derive(Debug, Clone, Default)]
pub struct LastValue(Option<Load>);

impl Predictor for LastValue {
    fn observe(&mut self, sample: &Sample) {
        self.0 = Some(sample.load.clone());
    }
    fn predict(&self) -> Option<Load> {
        self.0.clone()
    }
}

/// A method of [`crate::predict`] (last value, EWMA, periodic) over the last
/// `keep` samples, each taken as one vector: the vnodes' CPU, then the links'
/// rates.
///
/// ```
/// use netbalance::balance::predictor::{Forecast, Predictor};
/// use netbalance::balance::Sample;
/// use netbalance::cost::Load;
/// use netbalance::predict::Method;
/// let mut f = Forecast::new(Method::Ewma { alpha: 0.5 }, 16);
/// for (t, c) in [(0.0, 1.0), (1.0, 3.0)] {
///     f.observe(&Sample { t, load: Load { cpu: vec![c], rate: vec![2.0 * c] }, dirty_mb_s: vec![] });
/// }
/// assert_eq!(f.predict(), Some(Load { cpu: vec![2.0], rate: vec![4.0] }));
/// ```
///
/// Complexity: that of [`crate::predict::predict`] over `keep` samples, per window.
#[derive(Debug, Clone)]
pub struct Forecast {
    method: crate::predict::Method,
    keep: usize,
    history: Vec<Vec<f64>>,
    n_cpu: usize,
}

impl Forecast {
    pub fn new(method: crate::predict::Method, keep: usize) -> Self {
        Forecast {
            method,
            keep: keep.max(1),
            history: Vec::new(),
            n_cpu: 0,
        }
    }
}

impl Predictor for Forecast {
    fn observe(&mut self, sample: &Sample) {
        self.n_cpu = sample.load.cpu.len();
        let mut x = sample.load.cpu.clone();
        x.extend_from_slice(&sample.load.rate);
        if self.history.len() >= self.keep {
            self.history.remove(0);
        }
        self.history.push(x);
    }
    fn predict(&self) -> Option<Load> {
        if self.history.is_empty() {
            return None;
        }
        let mut x = crate::predict::predict(self.method, &self.history);
        let rate = x.split_off(self.n_cpu.min(x.len()));
        Some(Load { cpu: x, rate })
    }
}
