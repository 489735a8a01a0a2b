//! Bringing the testbed from one placement to another (model §3, §7):
//! deploy (nothing in force yet), migrate (live, per [`crate::cost::plan`]),
//! teardown, and taking up a crashed run from its journal (resume or
//! rollback). Every run is journalled in the state dir and ends with the
//! placement reached written there (atomically) and returned.
//!
//! Failures: a step that fails on a host is rolled back so that every vnode
//! runs exactly once (on its source VM if at all possible) and the
//! experiment resumes; the result is [`Applied`] with `complete == false`,
//! which the command turns into exit 3 ([`crate::Error::HostRecovered`]).
//! Only if a vnode cannot be brought up anywhere, or a VM cannot be thawed,
//! is the run left unfinished in the journal, with an [`crate::Error::Host`]
//! saying to take it up with `--resume` or `--rollback`.

pub mod calibrate;
pub mod crash;
pub mod dispatch;
pub mod driver;
pub mod engine;
#[cfg(any(test, feature = "test-hooks"))]
pub mod fake;
pub mod one_move;
pub mod plans;
pub mod progress;
pub mod testbed_driver;
pub mod timing;

pub use driver::{LinkSpec, Presence, Specs, VnodeDriver, VnodeSpec};
pub use engine::{Engine, Executed};
pub use one_move::{move_one, move_some};

use engine::{on_vms, retry};
pub use progress::StepBar;

use crate::cost::{self, Instance};
use crate::error::{Error, Result};
use crate::model::Placement;
use crate::problem::Problem;
use crate::state::journal::{PlannedMove, Record, RunEnd, RunKind, RunLog, Step};
use crate::state::{Journal, StateDir, StateLock};
use std::collections::BTreeSet;

/// What a run needs: the problem (topology, testbed, costs), the driver,
/// the locked state dir and somewhere to show progress.
pub struct Job<'a> {
    pub problem: &'a Problem,
    pub driver: &'a dyn VnodeDriver,
    pub state: &'a StateDir,
    /// Held for the whole run (proof that no other run touches the dir).
    pub lock: &'a StateLock,
    pub progress: &'a StepBar,
}

/// The end of a run that left the testbed consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The placement now in force (also in the state dir); `None` after a
    /// teardown or an undone deployment.
    pub placement: Option<Placement>,
    /// False when a failure kept some of the plan from being done.
    pub complete: bool,
    /// What failed (empty when complete).
    pub failures: Vec<String>,
    /// Vnodes moved or deployed.
    pub changed: usize,
}

impl Applied {
    /// `Ok(placement)` if complete; else [`Error::HostRecovered`] naming the
    /// state file that holds the placement now in force.
    pub fn into_result(self, state: &StateDir) -> Result<Option<Placement>> {
        if self.complete {
            return Ok(self.placement);
        }
        let now = match &self.placement {
            Some(_) => format!("the placement now in force is in {}", state.placement_path().display()),
            None => "nothing is deployed".to_string(),
        };
        Err(Error::HostRecovered {
            message: format!("{}; {now}", self.failures.join("; ")),
        })
    }
}

/// The environment variable that swaps the testbed for the fake driver
/// (only in a build with the `test-hooks` feature, which only the tests
/// enable): `fake:WORLD.json[,fail=STEP:N,...]`, see
/// `fake::FakeDriver::from_spec`.
#[cfg(feature = "test-hooks")]
pub const TEST_DRIVER_ENV: &str = "NETBALANCE_TEST_DRIVER";

/// The driver for a problem's testbed: the real testbed driver reaching the
/// VMs with `ssh` and keeping vnode state under `paths` (with the
/// `test-hooks` feature, the fake one when `NETBALANCE_TEST_DRIVER` is set).
/// `current` is the placement in force (none before a deployment).
pub fn driver_for(
    problem: &Problem,
    current: Option<&Placement>,
    ssh: crate::testbed::SshOptions,
    paths: crate::testbed::Paths,
) -> Result<Box<dyn VnodeDriver>> {
    #[cfg(feature = "test-hooks")]
    if let Some(spec) = std::env::var_os(TEST_DRIVER_ENV) {
        let spec = spec.to_string_lossy();
        return Ok(Box::new(fake::FakeDriver::from_spec(&spec, &problem.instance)?));
    }
    let fleet = crate::testbed::Fleet::new(&problem.testbed, ssh, paths);
    Ok(Box::new(
        testbed_driver::TestbedDriver::new(fleet, &problem.topology, current)?
            .with_mode(problem.instance.mode, problem.instance.costs.pre_copy),
    ))
}

/// Which way to take up a crashed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Finish what the run set out to do.
    Resume,
    /// Undo it: back to the placement before the run.
    Rollback,
}

impl Job<'_> {
    fn inst(&self) -> &Instance {
        &self.problem.instance
    }

    /// Bring the testbed from `current` (the placement in force; `None`:
    /// nothing deployed) to `target`.
    pub fn apply(&self, current: Option<&[u32]>, target: &[u32]) -> Result<Applied> {
        match current {
            None => self.deploy(target),
            Some(from) => self.migrate(from, target),
        }
    }

    fn specs(&self) -> Specs {
        Specs::new(&self.problem.topology)
    }

    /// Live migration from `from` to `to`.
    pub fn migrate(&self, from: &[u32], to: &[u32]) -> Result<Applied> {
        let inst = self.inst();
        let plan = cost::plan(inst, from, to);
        let target = self.problem.placement_of(to);
        if plan.moves.is_empty() {
            self.state.set_placement(&target)?;
            return Ok(Applied {
                placement: Some(target),
                complete: true,
                failures: vec![],
                changed: 0,
            });
        }
        let mut journal = self.state.journal()?;
        let moves = plan
            .moves
            .iter()
            .map(|m| PlannedMove {
                vnode: inst.vnode_ids[m.vnode].clone(),
                from: inst.vm_names[m.from as usize].clone(),
                to: inst.vm_names[m.to as usize].clone(),
            })
            .collect();
        journal.begin(
            RunKind::Migrate,
            Some(&self.problem.placement_of(from)),
            Some(&target),
            moves,
        )?;
        let specs = self.specs();
        let outcome = Engine::new(inst, &specs, self.driver, &mut journal, self.progress, from).run(from, &plan);
        self.finish(&mut journal, outcome, RunEnd::Committed)
    }

    /// Record the end of a migration (or of its recovery).
    fn finish(&self, journal: &mut Journal, outcome: Executed, done: RunEnd) -> Result<Applied> {
        if !outcome.lost.is_empty() || !outcome.frozen.is_empty() {
            return Err(Error::Host(format!(
                "{}{}{}; the run stays open in {}: take it up with `netbalance migrate --resume` (or `--rollback`) once the hosts answer",
                outcome.failures.join("; "),
                if outcome.lost.is_empty() { String::new() } else { format!("; vnodes not running anywhere (images kept): {}", outcome.lost.join(", ")) },
                if outcome.frozen.is_empty() { String::new() } else { format!("; VMs still frozen: {}", outcome.frozen.join(", ")) },
                journal.path().display()
            )));
        }
        let reached = self.problem.placement_of(&outcome.reached);
        self.state.set_placement(&reached)?;
        let complete = outcome.is_complete();
        let outcome_tag = if complete { done } else { RunEnd::Recovered };
        journal.append(Record::Finished {
            outcome: outcome_tag,
            placement: Some(reached.clone()),
        })?;
        let mut failures = outcome.failures;
        if outcome.not_started > 0 {
            failures.push(format!(
                "{} planned move(s) not started after the failure",
                outcome.not_started
            ));
        }
        Ok(Applied {
            placement: Some(reached),
            complete,
            failures,
            changed: outcome.moved.len(),
        })
    }

    /// First deployment: every vnode of `to` on its VM, then every link.
    /// On a failure everything deployed is removed again.
    pub fn deploy(&self, to: &[u32]) -> Result<Applied> {
        let target = self.problem.placement_of(to);
        let mut journal = self.state.journal()?;
        journal.begin(RunKind::Deploy, None, Some(&target), vec![])?;
        self.deploy_in(&mut journal, to)
    }

    fn deploy_in(&self, journal: &mut Journal, to: &[u32]) -> Result<Applied> {
        let inst = self.inst();
        let specs = self.specs();
        self.progress.add_steps(1);
        let vnodes: Vec<(VnodeSpec, String)> = to
            .iter()
            .enumerate()
            .map(|(n, &v)| (specs.vnodes[n].clone(), inst.vm_names[v as usize].clone()))
            .collect();
        let links: Vec<LinkSpec> = (0..specs.links.len() as u32)
            .map(|e| specs.link(e, to, &inst.vm_names))
            .collect();
        match self.driver.deploy(&vnodes, &links) {
            Ok(()) => {
                let mut vms: Vec<&String> = vnodes.iter().map(|(_, vm)| vm).collect();
                vms.sort_unstable();
                vms.dedup();
                for vm in vms {
                    journal.append(Record::Deployed { vm: vm.clone() })?;
                }
                self.progress.step("deployed");
                let placement = self.problem.placement_of(to);
                self.state.set_placement(&placement)?;
                journal.append(Record::Finished {
                    outcome: RunEnd::Committed,
                    placement: Some(placement.clone()),
                })?;
                Ok(Applied {
                    placement: Some(placement),
                    complete: true,
                    failures: vec![],
                    changed: to.len(),
                })
            }
            Err(e) => {
                let _ = journal.append(Record::Failed {
                    vnode: None,
                    vm: "*".into(),
                    during: Step::Deploy,
                    error: crate::error::one_line(&e),
                });
                self.progress.log(&format!(
                    "deployment failed ({e}); removing what was deployed",
                    e = crate::error::one_line(&e)
                ));
                self.remove_all(journal, to)?;
                self.state.clear_placement()?;
                journal.append(Record::Finished {
                    outcome: RunEnd::Recovered,
                    placement: None,
                })?;
                Ok(Applied {
                    placement: None,
                    complete: false,
                    failures: vec![format!("deploy: {e}", e = crate::error::one_line(&e))],
                    changed: 0,
                })
            }
        }
    }

    /// Stop every vnode of `current` and remove its namespace and images.
    pub fn teardown(&self, current: &[u32]) -> Result<Applied> {
        let mut journal = self.state.journal()?;
        match journal.unfinished() {
            Some(run) if run.kind == RunKind::Teardown => {}
            _ => {
                journal.begin(
                    RunKind::Teardown,
                    Some(&self.problem.placement_of(current)),
                    None,
                    vec![],
                )?;
            }
        }
        self.teardown_in(&mut journal, current)
    }

    fn teardown_in(&self, journal: &mut Journal, current: &[u32]) -> Result<Applied> {
        self.remove_all(journal, current)?;
        self.state.clear_placement()?;
        journal.append(Record::Finished {
            outcome: RunEnd::Committed,
            placement: None,
        })?;
        Ok(Applied {
            placement: None,
            complete: true,
            failures: vec![],
            changed: current.len(),
        })
    }

    /// Remove every vnode of `assign` (namespace, processes, images), VMs in
    /// parallel; an error if some VM could not be cleaned.
    fn remove_all(&self, journal: &mut Journal, assign: &[u32]) -> Result<()> {
        let inst = self.inst();
        let by_vm = vnodes_by_vm(inst, assign);
        let vms: Vec<u32> = (0..inst.n_vms() as u32)
            .filter(|&v| !by_vm[v as usize].is_empty())
            .collect();
        self.progress.add_steps(vms.len() as u64);
        let journal_m = std::sync::Mutex::new(journal);
        let failed = on_vms(&vms, |v| {
            let vm = &inst.vm_names[v as usize];
            for &n in &by_vm[v as usize] {
                let id = &inst.vnode_ids[n];
                retry(|| self.driver.remove(vm, id))?;
                retry(|| self.driver.discard_image(vm, id))?;
            }
            journal_m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(Record::TornDown { vm: vm.clone() })?;
            self.progress.step(&format!("removed the vnodes of {vm}"));
            Ok(())
        });
        if failed.is_empty() {
            return Ok(());
        }
        let journal = journal_m.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut msgs = Vec::new();
        for (v, e) in failed {
            let vm = &inst.vm_names[v as usize];
            let _ = journal.append(Record::Failed {
                vnode: None,
                vm: vm.clone(),
                during: Step::Teardown,
                error: e.clone(),
            });
            msgs.push(format!("{vm}: {e}"));
        }
        Err(Error::Host(format!(
            "removing vnodes failed on {}; the run stays open in {}: run `netbalance migrate --resume` once the hosts answer",
            msgs.join("; "),
            journal.path().display()
        )))
    }

    /// Take up the unfinished run of the journal: finish it (`Resume`) or
    /// undo it (`Rollback`). Every vnode it touched is found by probing its
    /// source and destination, brought up exactly once, then moved on.
    pub fn recover(&self, direction: Direction) -> Result<Applied> {
        let mut journal = self.state.journal()?;
        let Some(run) = journal.unfinished() else {
            return Err(Error::usage(format!(
                "{}: no unfinished run to take up",
                journal.path().display()
            )));
        };
        self.progress.log(&format!(
            "taking up run {} (pid {}, {:?}) from {}",
            run.run,
            run.pid,
            run.kind,
            journal.path().display()
        ));
        let name = journal.path().display().to_string();
        let assignment = |p: &Option<Placement>, what: &str| -> Result<Vec<u32>> {
            let p = p.as_ref().ok_or_else(|| {
                Error::input(
                    crate::error::Location::file(&name),
                    format!("run {} has no {what} placement", run.run),
                )
            })?;
            self.problem.assignment(p, &format!("{name} (run {}, {what})", run.run))
        };
        match (run.kind, direction) {
            (RunKind::Teardown, Direction::Rollback) => Err(Error::usage(
                "a teardown cannot be rolled back (its vnodes are stopped); finish it with --resume",
            )),
            (RunKind::Teardown, Direction::Resume) => {
                let from = assignment(&run.from, "from")?;
                self.teardown_in(&mut journal, &from)
            }
            (RunKind::Deploy, Direction::Resume) => {
                // Whatever part of it was made goes, then it is made again.
                let to = assignment(&run.to, "to")?;
                self.remove_all(&mut journal, &to)?;
                self.deploy_in(&mut journal, &to)
            }
            (RunKind::Deploy, Direction::Rollback) => {
                let to = assignment(&run.to, "to")?;
                self.remove_all(&mut journal, &to)?;
                self.state.clear_placement()?;
                journal.append(Record::Finished {
                    outcome: RunEnd::RolledBack,
                    placement: None,
                })?;
                Ok(Applied {
                    placement: None,
                    complete: true,
                    failures: vec![],
                    changed: 0,
                })
            }
            (RunKind::Migrate, _) => {
                let from = assignment(&run.from, "from")?;
                let to = assignment(&run.to, "to")?;
                self.recover_migration(&mut journal, &run, &from, &to, direction)
            }
        }
    }

    fn recover_migration(
        &self,
        journal: &mut Journal,
        run: &RunLog,
        from: &[u32],
        to: &[u32],
        direction: Direction,
    ) -> Result<Applied> {
        let inst = self.inst();
        let specs = self.specs();
        let engine = Engine::new(inst, &specs, self.driver, journal, self.progress, from);
        let mut actual = from.to_vec();
        let mut lost = Vec::new();
        // The journal's moves by index (names only in the journal).
        let mut moves: Vec<(usize, u32, u32)> = Vec::with_capacity(run.moves.len());
        for mv in &run.moves {
            let (Some(n), Some(src), Some(dst)) = (inst.vnode(&mv.vnode), inst.vm(&mv.from), inst.vm(&mv.to)) else {
                return Err(Error::input(
                    crate::error::Location::file(journal_name(self.state)),
                    format!("run {}: move {mv:?} does not fit the topology and testbed", run.run),
                ));
            };
            moves.push((n as usize, src, dst));
        }
        self.progress.add_steps(moves.len() as u64);
        for &(n, src, dst) in &moves {
            let id = &inst.vnode_ids[n];
            let settled = match direction {
                Direction::Resume => engine.settle(n, dst, src, false),
                Direction::Rollback => engine.settle(n, src, dst, true),
            };
            match settled {
                Ok(at) => actual[n] = at,
                Err(e) => lost.push(format!("{id}: {e}", e = crate::error::one_line(&e))),
            }
            self.progress.step(&format!("found {id}"));
        }
        if !lost.is_empty() {
            return Err(Error::Host(format!(
                "vnodes not found running or as an image: {}; the run stays open: run --resume or --rollback again once the hosts answer",
                lost.join("; ")
            )));
        }
        let target = match direction {
            Direction::Resume => to,
            Direction::Rollback => from,
        };
        let plan = cost::plan(inst, &actual, target);
        let mut outcome = engine.run(&actual, &plan);
        if plan.moves.is_empty() {
            // Nothing left to move: thaw what the crash left frozen.
            outcome.frozen = engine.resume_all(&actual, &[], &BTreeSet::new());
        }
        for &(n, src, dst) in &moves {
            let id = &inst.vnode_ids[n];
            for vm in [src, dst] {
                let name = &inst.vm_names[vm as usize];
                if let Err(e) = self.driver.discard_image(name, id) {
                    self.progress.log(&format!(
                        "cleanup of {id} on {name} (left over, harmless): {e}",
                        e = crate::error::one_line(&e)
                    ));
                }
            }
            for vm in [src, dst] {
                if vm != outcome.reached[n] {
                    let _ = self.driver.remove(&inst.vm_names[vm as usize], id);
                }
            }
        }
        drop(engine);
        let done = match direction {
            Direction::Resume => RunEnd::Committed,
            Direction::Rollback => RunEnd::RolledBack,
        };
        self.finish(journal, outcome, done)
    }
}

fn journal_name(state: &StateDir) -> String {
    state.journal_path().display().to_string()
}

/// Vnode indices per VM index.
fn vnodes_by_vm(inst: &Instance, assign: &[u32]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); inst.n_vms()];
    for (n, &v) in assign.iter().enumerate() {
        out[v as usize].push(n);
    }
    out
}
