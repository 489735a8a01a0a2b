//! The loop's notion of time. Live runs use [`RealClock`] (wall-clock
//! seconds); `--replay` and the tests use [`FakeClock`], which jumps to the
//! time asked for, so a recorded hour replays in milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A clock the loop can wait on.
pub trait Clock {
    /// Seconds on this clock.
    fn now(&self) -> f64;
    /// Wait until `t` or until `stop` is set, whichever comes first; the
    /// time reached (≤ `t` when stopped early).
    fn wait_until(&mut self, t: f64, stop: &AtomicBool) -> f64;
}

/// Wall-clock time, starting at `origin` seconds. Waits in slices of at
/// most 100 ms so that a stop request is seen promptly.
#[derive(Debug)]
pub struct RealClock {
    started: Instant,
    origin: f64,
}

impl RealClock {
    pub fn starting_at(origin: f64) -> Self {
        RealClock {
            started: Instant::now(),
            origin,
        }
    }
    /// The clock that reads `origin` at the instant `started`.
    pub fn new(started: Instant, origin: f64) -> Self {
        RealClock { started, origin }
    }
}

impl Clock for RealClock {
    fn now(&self) -> f64 {
        self.origin + self.started.elapsed().as_secs_f64()
    }
    fn wait_until(&mut self, t: f64, stop: &AtomicBool) -> f64 {
        loop {
            let now = self.now();
            if now >= t || stop.load(Ordering::SeqCst) {
                return now.min(t);
            }
            std::thread::sleep(Duration::from_secs_f64((t - now).min(0.1)));
        }
    }
}

/// A clock that jumps: `wait_until(t)` returns at once with the clock at `t`
/// (unless a stop was requested: then it stays where it is). Counts waits.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    pub t: f64,
    pub waits: usize,
}

impl FakeClock {
    pub fn starting_at(t: f64) -> Self {
        FakeClock { t, waits: 0 }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> f64 {
        self.t
    }
    fn wait_until(&mut self, t: f64, stop: &AtomicBool) -> f64 {
        self.waits += 1;
        if !stop.load(Ordering::SeqCst) && t > self.t {
            self.t = t;
        }
        self.t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_jumps_unless_stopped() {
        let stop = AtomicBool::new(false);
        let mut c = FakeClock::starting_at(5.0);
        assert_eq!(c.wait_until(15.0, &stop), 15.0);
        assert_eq!(c.wait_until(10.0, &stop), 15.0, "never goes back");
        stop.store(true, Ordering::SeqCst);
        assert_eq!(c.wait_until(25.0, &stop), 15.0);
        assert_eq!(c.waits, 3);
    }

    #[test]
    fn real_clock_returns_early_on_stop() {
        let stop = AtomicBool::new(true);
        let mut c = RealClock::starting_at(100.0);
        let reached = c.wait_until(1000.0, &stop);
        assert!((100.0..100.5).contains(&reached), "{reached}");
    }
}
