//! The paper's evaluation (model §6), reproduced: the video-sensor-network
//! scenario ([`scenario`]), its runs through the balance engine ([`drive`]),
//! records and statistics ([`report`]) and plots ([`plot`]).

pub mod drive;
pub mod experiment;
pub mod loads;
pub mod plot;
pub mod report;
pub mod scenario;

use crate::cost::Instance;
use crate::error::Result;
use drive::{RunResult, Settings};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Run `runs` independent runs (run r draws its sinks and optimiser seeds
/// from `seed` and r) on up to `threads` threads; `done` is called after
/// each run (for a progress bar). The result is in run order and does not
/// depend on `threads`. The first run's error, if any, is the error.
pub fn run_all(
    inst: &Instance,
    s: &Settings,
    runs: usize,
    seed: u64,
    threads: usize,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<RunResult>> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<RunResult>>>> = Mutex::new((0..runs).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, runs.max(1)) {
            scope.spawn(|| loop {
                let r = next.fetch_add(1, Ordering::Relaxed);
                if r >= runs {
                    break;
                }
                let result = drive::run(inst, s, r, seed);
                slots.lock().unwrap_or_else(|e| e.into_inner())[r] = Some(result);
                done();
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
#[cfg(test)]
mod tests;
