//! The prediction of a window's load from the samples seen so far. The
//! default, and the paper's choice (SPEC §4), is the last measured value.

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
