//! Where the loop's load comes from: a recorded stream (`--replay`) or, live,
//! the testbed's monitor. Samples are on the run's clock (replay: the
//! stream's `t`).

use crate::cost::{Instance, Load};
use crate::error::{Error, Location, Result};
use crate::model::LoadSnapshot;

/// One measured load, indexed like the instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub load: Load,
    /// Dirty rates measured with the load (vnode index, MB/s): a snapshot's
    /// optional `dirty_mb_s` (`monitor --dirty`).
    pub dirty_mb_s: Vec<(usize, f64)>,
}

/// A stream of load samples.
pub trait LoadSource {
    /// The samples taken at or before `until` and not returned yet, oldest first.
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>>;
    /// The time of the first sample, if known in advance (replay).
    fn start(&self) -> Option<f64>;
    /// The time after which no load is known (replay: the last sample plus
    /// one interval); `None` for a live stream.
    fn end(&self) -> Option<f64>;
    /// The first time after `after` at which a significant load change is
    /// seen (a trigger: a window ends there and the next one starts with a
    /// new prediction), if the source knows it in advance (a scenario);
    /// `None`: windows run their full T_p.
    fn next_trigger(&self, _after: f64) -> Option<f64> {
        None
    }
    /// The actual load over `[from, to)` as pieces `(start, load)`, the
    /// first starting at `from`, if the source knows it (a scenario knows
    /// the load before the monitor sees it); `None`: the samples are the
    /// best knowledge, and the load between two samples is the earlier one's.
    fn actual(&self, _from: f64, _to: f64) -> Option<Vec<(f64, &Load)>> {
        None
    }
}

/// A recorded stream, replayed: what-if runs that touch no host.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    samples: Vec<Sample>,
    next: usize,
    end: f64,
}

impl ReplaySource {
    /// Index the snapshots of `file` against the instance. Times must not
    /// decrease; the last sample stands for `interval_s` seconds.
    pub fn new(inst: &Instance, snapshots: &[LoadSnapshot], file: &str, interval_s: f64) -> Result<Self> {
        let mut samples: Vec<Sample> = Vec::with_capacity(snapshots.len());
        for (i, snap) in snapshots.iter().enumerate() {
            let load = inst.load_from_snapshot(snap, file).map_err(|e| at_record(e, i + 1))?;
            if let Some(prev) = samples.last() {
                if snap.t < prev.t {
                    return Err(Error::input(
                        Location::file(file).at_path("t").at_line(i + 1),
                        format!("t = {} goes back in time (previous record: t = {})", snap.t, prev.t),
                    ));
                }
            }
            let dirty_mb_s = inst.dirty_from_snapshot(snap, file).map_err(|e| at_record(e, i + 1))?;
            samples.push(Sample {
                t: snap.t,
                load,
                dirty_mb_s,
            });
        }
        let end = samples.last().map_or(0.0, |s| s.t + interval_s);
        Ok(ReplaySource { samples, next: 0, end })
    }

    pub fn from_samples(samples: Vec<Sample>, interval_s: f64) -> Self {
        let end = samples.last().map_or(0.0, |s| s.t + interval_s);
        ReplaySource { samples, next: 0, end }
    }
}

/// Name the record (counting non-empty lines) in an error about a snapshot.
fn at_record(err: Error, record: usize) -> Error {
    match err {
        Error::Input { mut location, message } => {
            location.line.get_or_insert(record);
            Error::Input {
                location,
                message: format!("{message} (record {record})"),
            }
        }
        other => other,
    }
}

impl LoadSource for ReplaySource {
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>> {
        let from = self.next;
        while self.next < self.samples.len() && self.samples[self.next].t <= until {
            self.next += 1;
        }
        Ok(self.samples[from..self.next].to_vec())
    }
    fn start(&self) -> Option<f64> {
        self.samples.first().map(|s| s.t)
    }
    fn end(&self) -> Option<f64> {
        Some(self.end)
    }
}
