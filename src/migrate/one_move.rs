//! One vnode moved to another VM by the migration protocol users run (a
//! one-move plan through [`super::Job::migrate`]: journal, engine, testbed
//! driver, rollback), with what each of its steps took. `calibrate` measures
//! this and the testbed tests drive it, so neither has a path of its own.

use super::testbed_driver::TestbedDriver;
use super::{Job, StepBar};
use crate::cost::Instance;
use crate::error::{Error, Result};
use crate::model::{Costs, Placement, Testbed, Topology};
use crate::problem::Problem;
use crate::state::StateDir;
use crate::testbed::{Fleet, MigrationTimes};
use std::path::PathBuf;
use std::time::Instant;

/// Move `vnode` to VM `to`, from `placement` (the placement in force on
/// `fleet`), journalling into `state`. On success `placement` is the new
/// one and the move's times are returned. On a failure the engine puts the
/// vnode back (the error is then [`Error::HostRecovered`], and `placement`
/// is the one in force, unchanged) or leaves the run open in the journal
/// ([`Error::Host`]). `fleet` keeps its connections either way.
///
/// A vnode already on `to` is not moved: its times are all zero.
///
/// ```no_run
/// # use netbalance::model::{Placement, Testbed, Topology};
/// # fn demo(fleet: &mut netbalance::testbed::Fleet, topo: &Topology, tb: &Testbed, p: &mut Placement) -> netbalance::Result<()> {
/// let state = netbalance::state::StateDir::open("/tmp/nb-state")?;
/// let t = netbalance::migrate::move_one(fleet, topo, tb, p, "sensor-7", "h1-v0", &state)?;
/// println!("paused {:.0} ms", t.total_s * 1e3);
/// # Ok(()) }
/// ```
///
/// Complexity: the engine's, for one move: O(n + V) bookkeeping for n
/// vnodes on V VMs, plus the host steps.
pub fn move_one(
    fleet: &mut Fleet,
    topology: &Topology,
    testbed: &Testbed,
    placement: &mut Placement,
    vnode: &str,
    to: &str,
    state: &StateDir,
) -> Result<MigrationTimes> {
    let (total_s, moved) = move_some(fleet, topology, testbed, placement, &[(vnode, to)], state)?;
    let Some(moved) = moved else {
        return Ok(MigrationTimes {
            vnode: vnode.to_string(),
            from: to.to_string(),
            to: to.to_string(),
            ..MigrationTimes::default()
        });
    };
    let mut times = moved
        .into_iter()
        .find(|t| t.vnode == vnode)
        .ok_or_else(|| Error::Host(format!("{vnode} moved to {to} but no step was measured")))?;
    times.total_s = total_s;
    Ok(times)
}

/// [`move_one`] for several vnodes in one migration (one plan, one
/// journal run): `moves` are (vnode, VM) pairs. Returns the wall time of
/// the whole migration, seconds, and the times of each move (`None` if
/// nothing had to move).
pub fn move_some(
    fleet: &mut Fleet,
    topology: &Topology,
    testbed: &Testbed,
    placement: &mut Placement,
    moves: &[(&str, &str)],
    state: &StateDir,
) -> Result<(f64, Option<Vec<MigrationTimes>>)> {
    let problem = Problem {
        topology: topology.clone(),
        topology_path: PathBuf::from("-"),
        testbed: testbed.clone(),
        testbed_path: PathBuf::from("-"),
        instance: Instance::new(topology, testbed, Costs::default()),
    };
    let from = problem.assignment(placement, "the placement in force")?;
    let mut target = placement.clone();
    for (vnode, to) in moves {
        target.vm_of.insert(vnode.to_string(), to.to_string());
    }
    let want = problem.assignment(&target, "the target placement")?;
    let driver = TestbedDriver::new(fleet.take(), topology, Some(placement))?
        .with_mode(problem.instance.mode, problem.instance.costs.pre_copy);
    let lock = state.lock();
    let t0 = Instant::now();
    let applied = lock.and_then(|lock| {
        Job {
            problem: &problem,
            driver: &driver,
            state,
            lock: &lock,
            progress: &StepBar::hidden(),
        }
        .migrate(&from, &want)
    });
    let total_s = t0.elapsed().as_secs_f64();
    let moved = driver.timings().moves();
    *fleet = driver.into_fleet();
    let applied = applied?;
    if let Some(now) = &applied.placement {
        placement.vm_of = now.vm_of.clone();
    }
    applied.into_result(state)?;
    Ok((total_s, (from != want).then_some(moved)))
}
