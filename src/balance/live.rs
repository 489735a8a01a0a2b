//! The live collaborators: the testbed's counters sampled in-process
//! ([`MonitorSource`]) or load snapshots streamed in ([`StreamSource`], e.g.
//! from `netbalance monitor`), and the migrate engine as the actuator.

use super::actuator::{Actuator, Applied};
use super::source::{LoadSource, Sample};
use crate::cost::Instance;
use crate::error::{Error, Location, Result};
use crate::inputs::Problem;
use crate::migrate::Job;
use crate::model::LoadSnapshot;
use crate::state::StateDir;
use crate::testbed::monitor;
use crate::testbed::{Fleet, Layout};
use std::io::BufRead;
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::Instant;

/// What the reader thread sends: a snapshot (or the error of its line), stamped on arrival.
enum Message {
    Snapshot(Instant, Result<LoadSnapshot>),
    End(Instant),
}

/// Snapshots read from a stream (stdin) by a thread, stamped with their
/// arrival on the run's clock (`origin_t` at `origin`): the monitor's own
/// `t` is ignored, the loop's clock is the wall clock.
pub struct StreamSource {
    inst: Instance,
    name: String,
    rx: Receiver<Message>,
    origin: Instant,
    origin_t: f64,
    pending: Vec<Sample>,
    ended: Option<f64>,
}

impl StreamSource {
    /// Start reading `input` (named `name` in errors) on a thread.
    pub fn spawn<R: BufRead + Send + 'static>(inst: &Instance, name: &str, input: R, origin: Instant, origin_t: f64) -> Self {
        let (tx, rx) = channel();
        let file = name.to_string();
        std::thread::spawn(move || {
            for (i, line) in input.lines().enumerate() {
                let parsed = match line {
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => crate::io::parse_json_at::<LoadSnapshot>(&l, Location::file(&file).at_line(i + 1))
                        .and_then(|s| s.validate(&file, Some(i + 1)).map(|()| s)),
                    Err(e) => Err(Error::io(file.clone(), e)),
                };
                let failed = parsed.is_err();
                if tx.send(Message::Snapshot(Instant::now(), parsed)).is_err() || failed {
                    return;
                }
            }
            let _ = tx.send(Message::End(Instant::now()));
        });
        StreamSource { inst: inst.clone(), name: name.to_string(), rx, origin, origin_t, pending: Vec::new(), ended: None }
    }

    fn stamp(&self, at: Instant) -> f64 {
        self.origin_t + at.saturating_duration_since(self.origin).as_secs_f64()
    }
}

impl LoadSource for StreamSource {
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>> {
        loop {
            match self.rx.try_recv() {
                Ok(Message::Snapshot(at, snap)) => {
                    let load = self.inst.load_from_snapshot(&snap?, &self.name)?;
                    self.pending.push(Sample { t: self.stamp(at), load });
                }
                Ok(Message::End(at)) => self.ended = Some(self.stamp(at)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if self.ended.is_none() {
                        return Err(Error::io(self.name.clone(), std::io::Error::other("the load stream broke off")));
                    }
                    break;
                }
            }
        }
        let ready = self.pending.iter().take_while(|s| s.t <= until).count();
        Ok(self.pending.drain(..ready).collect())
    }
    fn start(&self) -> Option<f64> {
        None
    }
    fn end(&self) -> Option<f64> {
        self.ended
    }
}

/// Samples the deployed vnodes' counters (cgroup CPU, link bytes) under the
/// placement in force (read from the state dir at every sample, so a
/// migration is followed). A poll takes a sample when at least `interval_s`
/// passed since the last one; the snapshot between the two is stamped at
/// the later of the previous sample and the previous poll, so that the load
/// measured during a window is accounted to that window.
pub struct MonitorSource<'a> {
    inst: Instance,
    fleet: Fleet,
    layout: Layout,
    state: &'a StateDir,
    interval_s: f64,
    origin: Instant,
    origin_t: f64,
    prev: Option<(monitor::Sample, f64)>,
    last_poll: f64,
}

impl<'a> MonitorSource<'a> {
    pub fn new(problem: &Problem, fleet: Fleet, state: &'a StateDir, interval_s: f64, origin: Instant, origin_t: f64) -> Result<Self> {
        Ok(MonitorSource {
            inst: problem.instance.clone(),
            fleet,
            layout: Layout::new(&problem.topology)?,
            state,
            interval_s,
            origin,
            origin_t,
            prev: None,
            last_poll: f64::NEG_INFINITY,
        })
    }
}

impl LoadSource for MonitorSource<'_> {
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>> {
        let now = self.origin_t + self.origin.elapsed().as_secs_f64();
        let since = self.prev.as_ref().map(|p| p.1);
        let last_poll = std::mem::replace(&mut self.last_poll, until);
        if since.is_some_and(|s| now - s < self.interval_s) {
            return Ok(Vec::new());
        }
        let placement = self
            .state
            .placement()?
            .ok_or_else(|| Error::Host(format!("nothing in force in {} any more", self.state.path().display())))?;
        let cur = monitor::sample(&mut self.fleet, &self.layout, &placement)?;
        let out = match self.prev.take() {
            Some((prev, prev_t)) => {
                let t = prev_t.max(last_poll).min(until);
                let snap = monitor::snapshot(&prev, &cur, &self.layout, t, 1.0);
                vec![Sample { t, load: self.inst.load_from_snapshot(&snap, "<monitor>")? }]
            }
            None => Vec::new(),
        };
        self.prev = Some((cur, now));
        Ok(out)
    }
    fn start(&self) -> Option<f64> {
        None
    }
    fn end(&self) -> Option<f64> {
        None
    }
}

/// Applies decisions with the migrate engine (journalled, rolled back on a
/// host failure), timing the pause.
pub struct MigrateActuator<'a> {
    pub job: Job<'a>,
    pub problem: &'a Problem,
}

impl Actuator for MigrateActuator<'_> {
    fn apply(&mut self, _inst: &Instance, from: &[u32], to: &[u32]) -> Result<Applied> {
        let started = Instant::now();
        let applied = self.job.migrate(from, to)?;
        let pause_s = Some(started.elapsed().as_secs_f64());
        let state = self.job.state;
        let reached = match &applied.placement {
            Some(p) => self.problem.assignment(p, &state.placement_path().display().to_string())?,
            None => return Err(Error::Host("the migration left nothing deployed".into())),
        };
        let failure = applied.into_result(state).err();
        Ok(Applied { reached, pause_s, failure })
    }
}
