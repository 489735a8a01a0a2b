//! The live collaborators: the testbed's counters sampled in-process
//! ([`MonitorSource`]) or load snapshots streamed in ([`StreamSource`], e.g.
//! from `netbalance monitor`), and the migrate engine as the actuator.

use super::actuator::{Actuator, Applied};
use super::source::{LoadSource, Sample};
use crate::cost::{Instance, Load};
use crate::error::{Error, Location, Result};
use crate::migrate::Job;
use crate::model::{LoadSnapshot, MigrationMode};
use crate::problem::Problem;
use crate::state::StateDir;
use crate::testbed::monitor;
use crate::testbed::{Fleet, Layout};
use std::io::BufRead;
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::Instant;

/// What the reader thread sends: a snapshot (or the error of its line), stamped on arrival.
enum Message {
    Snapshot(Instant, Result<(Load, Vec<(usize, f64)>)>),
    End(Instant),
}

/// Snapshots read from a stream (stdin) by a thread, stamped with their
/// arrival on the run's clock (`origin_t` at `origin`): the monitor's own
/// `t` is ignored, the loop's clock is the wall clock.
pub struct StreamSource {
    name: String,
    rx: Receiver<Message>,
    origin: Instant,
    origin_t: f64,
    pending: Vec<Sample>,
    ended: Option<f64>,
}

impl StreamSource {
    /// Start reading `input` (named `name` in errors) on a thread.
    pub fn spawn<R: BufRead + Send + 'static>(
        inst: &Instance,
        name: &str,
        input: R,
        origin: Instant,
        origin_t: f64,
    ) -> Self {
        let (tx, rx) = channel();
        let file = name.to_string();
        let inst = inst.clone();
        std::thread::spawn(move || {
            for (i, line) in crate::io::capped_lines(input).enumerate() {
                let at = Location::file(&file).at_line(i + 1);
                let parsed = match line {
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => crate::io::parse_json_at::<LoadSnapshot>(&l, at.clone())
                        .and_then(|s| s.validate(&file, Some(i + 1)).map(|()| s))
                        .and_then(|s| {
                            let load = inst.load_from_snapshot(&s, &file)?;
                            Ok((load, inst.dirty_from_snapshot(&s, &file)?))
                        })
                        .map_err(|e| at_line(e, i + 1)),
                    Err(e) => Err(Error::io(file.clone(), e)),
                };
                let failed = parsed.is_err();
                if tx.send(Message::Snapshot(Instant::now(), parsed)).is_err() || failed {
                    return;
                }
            }
            let _ = tx.send(Message::End(Instant::now()));
        });
        StreamSource {
            name: name.to_string(),
            rx,
            origin,
            origin_t,
            pending: Vec::new(),
            ended: None,
        }
    }

    fn stamp(&self, at: Instant) -> f64 {
        self.origin_t + at.saturating_duration_since(self.origin).as_secs_f64()
    }
}

impl LoadSource for StreamSource {
    fn poll(&mut self, until: f64) -> Result<Vec<Sample>> {
        loop {
            match self.rx.try_recv() {
                Ok(Message::Snapshot(at, load)) => {
                    let (load, dirty_mb_s) = load?;
                    self.pending.push(Sample {
                        t: self.stamp(at),
                        load,
                        dirty_mb_s,
                    });
                }
                Ok(Message::End(at)) => self.ended = Some(self.stamp(at)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if self.ended.is_none() {
                        return Err(Error::io(
                            self.name.clone(),
                            std::io::Error::other("the load stream broke off"),
                        ));
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

/// Name the line in an error about a snapshot's contents.
fn at_line(err: Error, line: usize) -> Error {
    match err {
        Error::Input { mut location, message } => {
            location.line = Some(line);
            Error::Input { location, message }
        }
        other => other,
    }
}

/// Samples the deployed vnodes' counters (cgroup CPU, link bytes) under the
/// placement in force (read from the state dir at every sample, so a
/// migration is followed). A poll takes a sample when at least `interval_s`
/// passed since the last one; the snapshot between the two is stamped at
/// the later of the previous sample and the previous poll, so that the load
/// measured during a window is accounted to that window. A failed sample is
/// skipped (logged on stderr); five in a row end the run. When moves are
/// priced pre-copy, it measures the vnodes' dirty rates too (as `monitor
/// --dirty`), where the VMs track them.
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
    /// Samples failed in a row.
    failures: usize,
    dirty: Option<monitor::DirtyProbe>,
}

/// The monitor gives up after this many failed samples in a row.
const MAX_SAMPLE_FAILURES: usize = 5;

impl<'a> MonitorSource<'a> {
    pub fn new(
        problem: &Problem,
        fleet: Fleet,
        state: &'a StateDir,
        interval_s: f64,
        origin: Instant,
        origin_t: f64,
    ) -> Result<Self> {
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
            failures: 0,
            dirty: (problem.instance.mode == MigrationMode::PreCopy).then(monitor::DirtyProbe::default),
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
        let cur = match monitor::sample_with(&mut self.fleet, &self.layout, &placement, self.dirty.as_mut()) {
            Ok(cur) => {
                self.failures = 0;
                cur
            }
            // A VM that does not answer once (an SSH hiccup) costs a sample, not the run.
            Err(err) if self.failures + 1 < MAX_SAMPLE_FAILURES => {
                self.failures += 1;
                crate::info!(
                    "netbalance: monitor: {err} (sample skipped)",
                    err = crate::error::one_line(&err)
                );
                return Ok(Vec::new());
            }
            Err(err) => return Err(err),
        };
        let out = match self.prev.take() {
            Some((prev, prev_t)) => {
                let t = prev_t.max(last_poll).min(until);
                let snap = monitor::snapshot(&prev, &cur, &self.layout, t, 1.0);
                vec![Sample {
                    t,
                    load: self.inst.load_from_snapshot(&snap, "<monitor>")?,
                    dirty_mb_s: self.inst.dirty_from_snapshot(&snap, "<monitor>")?,
                }]
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
    fn apply(&mut self, inst: &Instance, from: &[u32], to: &[u32]) -> Result<Applied> {
        let started = Instant::now();
        let applied = self.job.migrate(from, to)?;
        let pause_s = Some(started.elapsed().as_secs_f64());
        // The driver keeps every vnode's last move: this run's, for the moved ones.
        let dirty_mb_s = self
            .job
            .driver
            .measured()
            .iter()
            .filter_map(|t| {
                let n = inst.vnode(&t.vnode)? as usize;
                (from[n] != to[n]).then_some((n, t.dirty_mb_s()?))
            })
            .collect();
        let state = self.job.state;
        let reached = match &applied.placement {
            Some(p) => self
                .problem
                .assignment(p, &state.placement_path().display().to_string())?,
            None => return Err(Error::Host("the migration left nothing deployed".into())),
        };
        let failure = applied.into_result(state).err();
        Ok(Applied {
            reached,
            pause_s,
            failure,
            dirty_mb_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Costs, Testbed, Topology, Vnode};
    use std::io::Cursor;

    fn inst() -> Instance {
        let topo = Topology {
            vnodes: vec![Vnode::new("a"), Vnode::new("b")],
            links: vec![],
        };
        Instance::new(&topo, &Testbed::generate(1, 2, 1000.0), Costs::default())
    }

    /// Poll until the reader thread has delivered what it will (or 5 s passed).
    fn drain(src: &mut StreamSource) -> Result<Vec<Sample>> {
        let t0 = Instant::now();
        let mut got = Vec::new();
        while src.end().is_none() && t0.elapsed().as_secs() < 5 {
            got.extend(src.poll(f64::INFINITY)?);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        got.extend(src.poll(f64::INFINITY)?);
        Ok(got)
    }

    #[test]
    fn a_stream_is_stamped_on_arrival_and_ends_at_eof() {
        let input = "{\"t\":100,\"cpu\":{\"a\":0.5}}\n\n{\"t\":200,\"cpu\":{\"b\":0.25}}\n";
        let mut src = StreamSource::spawn(&inst(), "s.ndjson", Cursor::new(input), Instant::now(), 7.0);
        let got = drain(&mut src).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].load.cpu, vec![0.5, 0.0]);
        assert_eq!(got[1].load.cpu, vec![0.0, 0.25]);
        assert!(
            got.iter().all(|s| (7.0..12.0).contains(&s.t)),
            "stamped on the run's clock, not the monitor's t"
        );
        assert!(src.end().is_some());
        let mut early = StreamSource::spawn(&inst(), "s.ndjson", Cursor::new(input), Instant::now(), 7.0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(early.poll(6.0).unwrap().is_empty(), "nothing before it arrived");
    }

    #[test]
    fn a_bad_line_is_an_input_error_naming_the_line() {
        let input = "{\"t\":0,\"cpu\":{\"a\":0.5}}\n{\"t\":1,\"cpu\":{\"zz\":0.5}}\n";
        let mut src = StreamSource::spawn(&inst(), "s.ndjson", Cursor::new(input), Instant::now(), 0.0);
        let err = drain(&mut src).unwrap_err().to_string();
        assert!(err.starts_with("s.ndjson:2") && err.contains("zz"), "{err}");
        let input = "{\"t\":0,\"cpu\":{\"a\":-1}}\n";
        let mut src = StreamSource::spawn(&inst(), "s.ndjson", Cursor::new(input), Instant::now(), 0.0);
        let err = drain(&mut src).unwrap_err().to_string();
        assert!(err.starts_with("s.ndjson:1"), "{err}");
    }
}
