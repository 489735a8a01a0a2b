//! Load prediction for the next window (model §4: the default is the last
//! measured value, the paper's choice), and scoring of predictors on a
//! recorded stream.
//!
//! A snapshot becomes a vector over keys (vnode CPU by id, link rate by the
//! sorted endpoint pair; a key a snapshot does not name counts 0). Methods:
//! - `last`: the last snapshot;
//! - `ewma`: s ← α·x + (1 − α)·s, per key;
//! - `periodic`: seasonal naive. It searches the lag p (2 ≤ p ≤ n/2, so at
//!   least two periods were seen) whose one-period-back forecast had the
//!   lowest mean error over the history, and predicts the value p − 1
//!   samples back (the next sample's match one period earlier) if that
//!   error beats the last value's; else the last value. Sink changes every
//!   120 s with a *random* new sink repeat their timing but not their load,
//!   so there it has no earlier match and falls back to last value (the
//!   unit test `periodic_falls_back_to_last_value_without_a_period`); it
//!   pays off where loads repeat (a diurnal pattern, a cyclic workload).
//!
//! Complexity: `last` O(k), `ewma` O(n·k) over a history of n snapshots of k
//! keys; `periodic` O(n·k) to sketch plus O(n·L·S) for L lags over S = 64
//! count-sketch buckets (errors are measured on sketches, values predicted
//! from the full snapshots).

use crate::model::{LinkRate, LoadSnapshot};
use serde::Serialize;
use std::collections::BTreeMap;

pub mod score;

/// A prediction method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Last,
    Ewma { alpha: f64 },
    Periodic { max_lag: usize },
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::Last => "last",
            Method::Ewma { .. } => "ewma",
            Method::Periodic { .. } => "periodic",
        }
    }
}

/// Where a value lives in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Key {
    Cpu(String),
    Link(String, String),
}

/// Snapshots as aligned vectors over the union of their keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub keys: Vec<Key>,
    pub t: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

impl Series {
    /// Align snapshots on the union of their keys (a key absent from a snapshot is 0).
    pub fn from_snapshots(snaps: &[LoadSnapshot]) -> Series {
        let mut index: BTreeMap<Key, usize> = BTreeMap::new();
        for s in snaps {
            for id in s.cpu.keys() {
                index.entry(Key::Cpu(id.clone())).or_insert(0);
            }
            for r in &s.mbps {
                index.entry(link_key(r)).or_insert(0);
            }
        }
        for (i, v) in index.values_mut().enumerate() {
            *v = i;
        }
        let values = snaps
            .iter()
            .map(|s| {
                let mut x = vec![0.0; index.len()];
                for (id, c) in &s.cpu {
                    x[index[&Key::Cpu(id.clone())]] = *c;
                }
                for r in &s.mbps {
                    x[index[&link_key(r)]] += r.rate;
                }
                x
            })
            .collect();
        Series {
            keys: index.into_keys().collect(),
            t: snaps.iter().map(|s| s.t).collect(),
            values,
        }
    }

    /// A vector over `keys` back as a snapshot at time `t`.
    pub fn snapshot(&self, t: f64, x: &[f64]) -> LoadSnapshot {
        let mut snap = LoadSnapshot {
            t,
            ..LoadSnapshot::default()
        };
        for (k, &v) in self.keys.iter().zip(x) {
            match k {
                Key::Cpu(id) => {
                    snap.cpu.insert(id.clone(), v);
                }
                Key::Link(a, b) => snap.mbps.push(LinkRate {
                    a: a.clone(),
                    b: b.clone(),
                    rate: v,
                }),
            }
        }
        snap
    }
}

fn link_key(r: &LinkRate) -> Key {
    if r.a <= r.b {
        Key::Link(r.a.clone(), r.b.clone())
    } else {
        Key::Link(r.b.clone(), r.a.clone())
    }
}

/// The predicted next vector from a non-empty history (oldest first).
///
/// ```
/// use netbalance::predict::{predict, Method};
/// let h = vec![vec![1.0], vec![5.0], vec![1.0], vec![5.0], vec![1.0], vec![5.0]];
/// assert_eq!(predict(Method::Last, &h), vec![5.0]);
/// assert_eq!(predict(Method::Ewma { alpha: 0.5 }, &[vec![0.0], vec![4.0]]), vec![2.0]);
/// // period 2: the next value is the one two samples before it
/// assert_eq!(predict(Method::Periodic { max_lag: 10 }, &h), vec![1.0]);
/// ```
pub fn predict(method: Method, history: &[Vec<f64>]) -> Vec<f64> {
    let Some(last) = history.last() else { return Vec::new() };
    match method {
        Method::Last => last.clone(),
        Method::Ewma { alpha } => {
            let mut s = history[0].clone();
            for x in &history[1..] {
                for (si, xi) in s.iter_mut().zip(x) {
                    *si = alpha * xi + (1.0 - alpha) * *si;
                }
            }
            s
        }
        Method::Periodic { max_lag } => {
            let sketches: Vec<Sketch> = history.iter().map(|x| sketch(x)).collect();
            match LagTable::new(&sketches, max_lag).best(0, history.len()) {
                Some(p) => history[history.len() - p].clone(),
                None => last.clone(),
            }
        }
    }
}

const SKETCH: usize = 64;

/// A count sketch of S = 64 buckets.
pub type Sketch = [f64; SKETCH];

/// Equal vectors give equal sketches; the L1 distance of sketches never
/// exceeds that of the vectors.
pub fn sketch(x: &[f64]) -> Sketch {
    let mut s = [0.0; SKETCH];
    for (i, &v) in x.iter().enumerate() {
        let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        s[(h >> 32) as usize % SKETCH] += sign * v;
    }
    s
}

fn dist(a: &Sketch, b: &Sketch) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// Per-lag prefix sums of sketch distances `d_p(t) = |sk[t] − sk[t−p]|`, so
/// that the mean error of any lag over any range costs O(1).
/// Building it costs O(n · max_lag · S).
pub struct LagTable {
    /// `prefix[p - 1][t]` = Σ_{p ≤ s < t} d_p(s).
    prefix: Vec<Vec<f64>>,
}

impl LagTable {
    pub fn new(sk: &[Sketch], max_lag: usize) -> LagTable {
        let lags = max_lag.min(sk.len() / 2).max(1);
        let prefix = (1..=lags)
            .map(|p| {
                let mut acc = vec![0.0; sk.len() + 1];
                for t in 0..sk.len() {
                    acc[t + 1] = acc[t] + if t >= p { dist(&sk[t], &sk[t - p]) } else { 0.0 };
                }
                acc
            })
            .collect();
        LagTable { prefix }
    }

    /// The lag p ≥ 2 (at most the table's and half of the history
    /// `start..end`) whose forecast x̂_t = x_{t−p} had a lower mean error
    /// than last value (p = 1) over the same samples of that history;
    /// `None` if none does.
    pub fn best(&self, start: usize, end: usize) -> Option<usize> {
        let n = end.saturating_sub(start);
        let top = self.prefix.len().min(n / 2);
        if top < 2 {
            return None;
        }
        // compare every lag on the same samples: t ∈ [start + top, end)
        let from = start + top;
        let err = |p: usize| (self.prefix[p - 1][end] - self.prefix[p - 1][from]) / (end - from) as f64;
        let base = err(1);
        let mut best: Option<(f64, usize)> = None;
        for p in 2..=top {
            let e = err(p);
            if e < base * 0.999 && best.map_or(true, |(b, _)| e < b) {
                best = Some((e, p));
            }
        }
        best.map(|(_, p)| p)
    }
}
