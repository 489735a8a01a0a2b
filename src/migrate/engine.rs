//! Executing a migration plan (model §3): suspend every vnode in force, run
//! the moves (moves sharing a VM one after another, others in parallel, in
//! the order [`super::dispatch`] picks), resume, clean up. Every
//! step is journalled before the next one starts.
//!
//! A move is checkpoint → transfer → restore → reattach. When a step fails
//! the move is rolled back: the vnode goes back to its source (restored from
//! the image the source keeps, or left alone if it was never dumped), no
//! new move starts, the moves in flight finish, and the experiment resumes
//! in the placement reached, which is consistent: every vnode runs exactly
//! once. Moves that were done stay done.
//!
//! Complexity: O(m log m + m·V) bookkeeping for m moves on V VMs, plus the
//! driver's steps; the wall-clock makespan follows the schedule, close to
//! max_v T_r(v).

use super::dispatch::Dispatcher;
use super::driver::{Presence, Specs, VnodeDriver};
use super::progress::StepBar;
use crate::cost::Instance;
use crate::cost::Plan;
use crate::error::{Error, Result};
use crate::state::journal::{Journal, Record, Step};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{mpsc, Condvar, Mutex};

/// How often a step of a rollback, a probe or a resume is tried.
const ATTEMPTS: usize = 3;

/// The result of executing a plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Executed {
    /// Where every vnode runs now (VM index per vnode).
    pub reached: Vec<u32>,
    /// Vnodes that moved as planned.
    pub moved: Vec<String>,
    /// Human-readable failures (each names the vnode or VM and the step).
    pub failures: Vec<String>,
    /// Vnodes that run nowhere after all attempts (their images are kept).
    pub lost: Vec<String>,
    /// Planned moves never started because an earlier one failed.
    pub not_started: usize,
    /// VMs that could not be resumed (their vnodes stay frozen).
    pub frozen: Vec<String>,
}

impl Executed {
    /// Every planned move done, nothing frozen.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty() && self.lost.is_empty() && self.frozen.is_empty() && self.not_started == 0
    }
}

/// How one move ended.
#[derive(Debug)]
enum MoveEnd {
    Moved,
    /// Failed; the vnode runs at the VM given (its source, unless it could
    /// only be brought up at the destination).
    Settled {
        at: u32,
        error: String,
    },
    Lost {
        error: String,
    },
}

/// Per-link locks, so two reattachments of one link never run at once.
#[derive(Default)]
struct LinkLocks {
    busy: Mutex<HashSet<u32>>,
    freed: Condvar,
}

struct LinkGuard<'a> {
    locks: &'a LinkLocks,
    links: Vec<u32>,
}

impl LinkLocks {
    /// Wait until none of `links` is busy, then take them all at once.
    fn take(&self, links: &[u32]) -> LinkGuard<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while links.iter().any(|l| busy.contains(l)) {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        busy.extend(links.iter().copied());
        LinkGuard {
            locks: self,
            links: links.to_vec(),
        }
    }
}

impl Drop for LinkGuard<'_> {
    fn drop(&mut self) {
        let mut busy = self.locks.busy.lock().unwrap_or_else(|e| e.into_inner());
        for l in &self.links {
            busy.remove(l);
        }
        self.locks.freed.notify_all();
    }
}

/// One execution of a plan against a driver, journalled.
pub struct Engine<'a> {
    inst: &'a Instance,
    specs: &'a Specs,
    driver: &'a dyn VnodeDriver,
    progress: &'a StepBar,
    journal: Mutex<&'a mut Journal>,
    /// Where every vnode runs now, as far as the engine knows.
    live: Mutex<Vec<u32>>,
    links: LinkLocks,
}

impl<'a> Engine<'a> {
    pub fn new(
        inst: &'a Instance,
        specs: &'a Specs,
        driver: &'a dyn VnodeDriver,
        journal: &'a mut Journal,
        progress: &'a StepBar,
        current: &[u32],
    ) -> Engine<'a> {
        Engine {
            inst,
            specs,
            driver,
            progress,
            journal: Mutex::new(journal),
            live: Mutex::new(current.to_vec()),
            links: LinkLocks::default(),
        }
    }

    fn record(&self, rec: Record) -> Result<()> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner()).append(rec)
    }

    fn vm(&self, v: u32) -> &str {
        &self.inst.vm_names[v as usize]
    }
    fn id(&self, n: usize) -> &str {
        &self.inst.vnode_ids[n]
    }
    fn live(&self) -> Vec<u32> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn set_live(&self, n: usize, vm: u32) {
        self.live.lock().unwrap_or_else(|e| e.into_inner())[n] = vm;
    }

    /// The vnode ids on every VM under an assignment.
    fn by_vm(&self, assign: &[u32]) -> Vec<Vec<String>> {
        let mut out = vec![Vec::new(); self.inst.n_vms()];
        for (n, &v) in assign.iter().enumerate() {
            out[v as usize].push(self.id(n).to_string());
        }
        out
    }

    /// Execute `plan` (from `cost::plan(inst, from, to)`), starting from
    /// `from`. Never fails as a whole: failures are in the outcome.
    pub fn run(&self, from: &[u32], plan: &Plan) -> Executed {
        let moves: Vec<(usize, u32, u32)> = plan.moves.iter().map(|m| (m.vnode, m.from, m.to)).collect();
        let mut outcome = Executed {
            reached: from.to_vec(),
            ..Executed::default()
        };
        let mut started = vec![false; moves.len()];
        if moves.is_empty() {
            return outcome;
        }
        let held = self.by_vm(from);
        let in_force: Vec<u32> = (0..self.inst.n_vms() as u32)
            .filter(|&v| !held[v as usize].is_empty())
            .collect();
        self.progress.add_steps((in_force.len() * 2 + moves.len() * 4) as u64);

        // 0. While the experiment runs: memory copied ahead (pre-copy; a
        // driver that moves otherwise does nothing). A failure stops the
        // migration before anything paused, as a failed suspend does.
        let failed = self.pre_copy(&moves);
        // 1. Suspend every vnode in force.
        let failed = if !failed.is_empty() {
            failed
        } else {
            on_vms(&in_force, |v| {
                self.driver.suspend(self.vm(v), &held[v as usize])?;
                self.record(Record::Suspended {
                    vm: self.vm(v).to_string(),
                })?;
                self.progress.step(&format!("suspended {}", self.vm(v)));
                Ok(())
            })
            .into_iter()
            .map(|(v, e)| (v, None, Step::Suspend, e))
            .collect()
        };
        if !failed.is_empty() {
            for (v, vnode, during, e) in &failed {
                let _ = self.record(Record::Failed {
                    vnode: vnode.clone(),
                    vm: self.vm(*v).to_string(),
                    during: *during,
                    error: e.clone(),
                });
                let what = match vnode {
                    Some(id) => format!("pre-copy of {id} from {}", self.vm(*v)),
                    None => format!("suspend on {}", self.vm(*v)),
                };
                self.progress.log(&format!("{what} failed: {e}"));
                outcome.failures.push(format!("{what}: {e}"));
            }
            // Rounds already copied are of no use now.
            for &(n, src, dst) in &moves {
                for vm in [src, dst] {
                    let _ = self.driver.discard_image(self.vm(vm), self.id(n));
                }
            }
            outcome.not_started = moves.len();
        } else {
            // 2. The moves, in schedule order.
            let ends = self.run_moves(&moves, plan);
            for (k, end) in ends.into_iter().enumerate() {
                let (n, _, dst) = moves[k];
                started[k] = end.is_some();
                match end {
                    Some(MoveEnd::Moved) => {
                        outcome.reached[n] = dst;
                        outcome.moved.push(self.id(n).to_string());
                    }
                    Some(MoveEnd::Settled { at, error }) => {
                        outcome.reached[n] = at;
                        outcome.failures.push(error);
                    }
                    Some(MoveEnd::Lost { error }) => {
                        outcome.lost.push(self.id(n).to_string());
                        outcome.failures.push(error);
                    }
                    None => outcome.not_started += 1,
                }
            }
        }

        // 3. Resume every VM that holds a vnode now or was suspended.
        let lost: BTreeSet<&str> = outcome.lost.iter().map(String::as_str).collect();
        outcome.frozen = self.resume_all(&outcome.reached, &in_force, &lost);

        // 4. Clean up, one thread per source VM (a step holds the VMs it
        // touches, so steps of different threads on one VM take turns):
        // images of every move that ended, and the namespace left on
        // whichever of its VMs the vnode does not run on. One after another,
        // 500 moves' cleanups took a fifth of a links-only re-placement.
        let lost: BTreeSet<String> = outcome.lost.iter().cloned().collect();
        let mut by_src: BTreeMap<u32, Vec<(usize, u32, u32)>> = BTreeMap::new();
        for (k, &(n, src, dst)) in moves.iter().enumerate() {
            if started[k] && !lost.contains(self.id(n)) {
                by_src.entry(src).or_default().push((n, src, dst));
            }
        }
        let srcs: Vec<u32> = by_src.keys().copied().collect();
        let reached = &outcome.reached;
        on_vms(&srcs, |v| {
            for &(n, src, dst) in &by_src[&v] {
                self.clean_up(n, src, dst, reached[n]);
            }
            Ok(())
        });
        outcome
    }

    /// Step 0 of [`Self::run`]: [`VnodeDriver::pre_copy`] of every move,
    /// the moves of one source VM one after another, sources in parallel.
    /// Returns the failures: (source VM, vnode, step, error).
    fn pre_copy(&self, moves: &[(usize, u32, u32)]) -> Vec<(u32, Option<String>, Step, String)> {
        let mut by_src: BTreeMap<u32, Vec<(usize, u32)>> = BTreeMap::new();
        for &(n, src, dst) in moves {
            by_src.entry(src).or_default().push((n, dst));
        }
        let srcs: Vec<u32> = by_src.keys().copied().collect();
        let first_failed = Mutex::new(BTreeMap::new());
        on_vms(&srcs, |v| {
            for &(n, dst) in &by_src[&v] {
                if let Err(e) = self.driver.pre_copy(self.id(n), self.vm(v), self.vm(dst)) {
                    let e = crate::error::one_line(&e);
                    first_failed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(v, self.id(n).to_string());
                    return Err(Error::Host(e));
                }
            }
            Ok(())
        })
        .into_iter()
        .map(|(v, e)| {
            let vnode = first_failed.lock().unwrap_or_else(|e| e.into_inner()).get(&v).cloned();
            (v, vnode, Step::PreCopy, e)
        })
        .collect()
    }

    /// Discard the images of vnode `n`'s move from `src` to `dst` on both
    /// VMs and remove it from the one of them it does not run on (`at`);
    /// a failure is logged (left over, harmless).
    fn clean_up(&self, n: usize, src: u32, dst: u32, at: u32) {
        let id = self.id(n);
        let mut steps = vec![
            retry(|| self.driver.discard_image(self.vm(src), id)),
            retry(|| self.driver.discard_image(self.vm(dst), id)),
        ];
        for vm in [src, dst] {
            if vm != at {
                steps.push(retry(|| self.driver.remove(self.vm(vm), id)));
            }
        }
        for r in steps {
            if let Err(e) = r {
                self.progress.log(&format!(
                    "cleanup of {id} (left over, harmless): {e}",
                    e = crate::error::one_line(&e)
                ));
            }
        }
    }

    /// Thaw every vnode of `assign` (except `lost` ones) on its VM, and
    /// every VM of `also`; the VMs that could not be resumed.
    pub fn resume_all(&self, assign: &[u32], also: &[u32], lost: &BTreeSet<&str>) -> Vec<String> {
        let now = self.by_vm(assign);
        let vms: Vec<u32> = (0..self.inst.n_vms() as u32)
            .filter(|&v| !now[v as usize].is_empty() || also.contains(&v))
            .collect();
        let failed = on_vms(&vms, |v| {
            let names: Vec<String> = now[v as usize]
                .iter()
                .filter(|id| !lost.contains(id.as_str()))
                .cloned()
                .collect();
            retry(|| self.driver.resume(self.vm(v), &names))?;
            self.record(Record::Resumed {
                vm: self.vm(v).to_string(),
            })?;
            self.progress.step(&format!("resumed {}", self.vm(v)));
            Ok(())
        });
        failed
            .into_iter()
            .map(|(v, e)| {
                let _ = self.record(Record::Failed {
                    vnode: None,
                    vm: self.vm(v).to_string(),
                    during: Step::Resume,
                    error: e.clone(),
                });
                self.progress.log(&format!("resume failed on {}: {e}", self.vm(v)));
                self.vm(v).to_string()
            })
            .collect()
    }

    /// Dispatch the moves ([`Dispatcher`]: moves sharing a VM in sequence,
    /// the others in parallel); after a failure no new move starts. `None`
    /// for moves not started.
    fn run_moves(&self, moves: &[(usize, u32, u32)], plan: &Plan) -> Vec<Option<MoveEnd>> {
        let timed = plan.timed();
        let mut dispatch = Dispatcher::new(&timed, self.inst.n_vms(), &plan.queues);
        let mut ends: Vec<Option<MoveEnd>> = (0..moves.len()).map(|_| None).collect();
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<MoveEnd>)>();
            let mut in_flight = 0usize;
            let mut stop = false;
            loop {
                if !stop {
                    for m in dispatch.ready() {
                        in_flight += 1;
                        let tx = tx.clone();
                        let mv = moves[m];
                        s.spawn(move || {
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_move(mv)));
                            let panic = r.is_err();
                            let _ = tx.send((m, r));
                            if panic {
                                // Let the scope see the panic (a crash: no rollback).
                                panic!("a move panicked");
                            }
                        });
                    }
                }
                if in_flight == 0 {
                    break;
                }
                let (m, end) = rx.recv().expect("workers send before they end");
                in_flight -= 1;
                dispatch.done(m);
                match end {
                    Ok(end) => {
                        stop |= !matches!(end, MoveEnd::Moved);
                        ends[m] = Some(end);
                    }
                    Err(_) => stop = true,
                }
            }
        });
        ends
    }

    /// One move: checkpoint → transfer → restore → reattach, rolled back on
    /// a failure.
    fn run_move(&self, (n, src, dst): (usize, u32, u32)) -> MoveEnd {
        let id = self.id(n).to_string();
        let (s, d) = (self.vm(src).to_string(), self.vm(dst).to_string());
        let spec = &self.specs.vnodes[n];
        let steps = || -> std::result::Result<(), (Step, Error)> {
            let at = |step: Step| move |e: Error| (step, e);
            self.driver.checkpoint(&s, &id).map_err(at(Step::Checkpoint))?;
            self.record(Record::Dumped {
                vnode: id.clone(),
                vm: s.clone(),
            })
            .map_err(at(Step::Checkpoint))?;
            self.progress.step(&format!("dumped {id} on {s}"));
            self.driver.transfer(&id, &s, &d).map_err(at(Step::Transfer))?;
            self.record(Record::Transferred {
                vnode: id.clone(),
                from: s.clone(),
                to: d.clone(),
            })
            .map_err(at(Step::Transfer))?;
            self.progress.step(&format!("transferred {id} to {d}"));
            self.driver.restore(&d, spec).map_err(at(Step::Restore))?;
            self.set_live(n, dst);
            self.record(Record::Restored {
                vnode: id.clone(),
                vm: d.clone(),
            })
            .map_err(at(Step::Restore))?;
            self.progress.step(&format!("restored {id} on {d}"));
            self.reattach(n).map_err(at(Step::Reattach))?;
            self.record(Record::Reattached {
                vnode: id.clone(),
                vm: d.clone(),
            })
            .map_err(at(Step::Reattach))?;
            self.progress.step(&format!("reattached {id}"));
            Ok(())
        };
        let Err((step, e)) = steps() else { return MoveEnd::Moved };
        let failed_vm = if matches!(step, Step::Checkpoint) { &s } else { &d };
        let error = format!("{step:?} of {id} ({s} -> {d}): {e}", e = crate::error::one_line(&e)).to_lowercase_first();
        self.progress.log(&format!("{error}; rolling {id} back to {s}"));
        let _ = self.record(Record::Failed {
            vnode: Some(id.clone()),
            vm: failed_vm.clone(),
            during: step,
            error: crate::error::one_line(&e),
        });
        let settled = if step == Step::Checkpoint {
            self.after_failed_checkpoint(n, src)
        } else {
            self.settle(n, src, dst, true)
        };
        match settled {
            Ok(at) => {
                let _ = self.record(Record::RolledBack {
                    vnode: id.clone(),
                    vm: self.vm(at).to_string(),
                });
                if at != src {
                    self.progress
                        .log(&format!("{id} could not go back to {s}; it runs on {}", self.vm(at)));
                }
                MoveEnd::Settled { at, error }
            }
            Err(e2) => {
                let detail = format!("{error}; rollback failed: {e2}", e2 = crate::error::one_line(&e2));
                self.progress.log(&format!("{id} LOST: {detail}"));
                let _ = self.record(Record::Lost {
                    vnode: id,
                    detail: detail.clone(),
                });
                MoveEnd::Lost { error: detail }
            }
        }
    }

    /// Re-attach the links of vnode `n` at the VMs the vnodes run on now.
    pub(crate) fn reattach(&self, n: usize) -> Result<()> {
        let links = &self.specs.links_of[n];
        if links.is_empty() {
            return Ok(());
        }
        let _guard = self.links.take(links);
        let live = self.live();
        let specs: Vec<_> = links
            .iter()
            .map(|&e| self.specs.link(e, &live, &self.inst.vm_names))
            .collect();
        self.driver.reattach(self.id(n), &specs)
    }

    /// A checkpoint failed: by the driver's contract the vnode still runs on
    /// its source, or its image there is complete. Restore it if it is gone.
    fn after_failed_checkpoint(&self, n: usize, src: u32) -> Result<u32> {
        let id = self.id(n);
        match retry(|| self.driver.probe(self.vm(src), id)) {
            Ok(Presence {
                running: false,
                image: true,
            }) => {
                retry(|| self.driver.restore(self.vm(src), &self.specs.vnodes[n]))?;
                self.set_live(n, src);
                retry(|| self.reattach(n))?;
                Ok(src)
            }
            Ok(Presence {
                running: false,
                image: false,
            }) => Err(Error::Host(format!(
                "{id} neither runs on {} nor has an image there",
                self.vm(src)
            ))),
            // Running, or the source cannot be asked: it was never dumped.
            _ => Ok(src),
        }
    }

    /// Move the running copy of vnode `n` from VM `from` to VM `to` (where
    /// it does not run): suspend, checkpoint, transfer, restore, then remove
    /// what is left on `from`.
    fn move_back(&self, n: usize, from: &str, to: &str) -> Result<()> {
        let (id, spec) = (self.id(n), &self.specs.vnodes[n]);
        retry(|| self.driver.suspend(from, &[id.to_string()]))?;
        self.driver.checkpoint(from, id)?;
        retry(|| self.driver.transfer(id, from, to))?;
        retry(|| self.driver.restore(to, spec))?;
        if let Err(e) = retry(|| self.driver.remove(from, id)) {
            self.progress.log(&format!(
                "{id}: what is left on {from} could not be removed: {e}",
                e = crate::error::one_line(&e)
            ));
        }
        Ok(())
    }

    /// Make vnode `n` run exactly once, on `prefer` if possible, else on
    /// `other`, looking at what each VM holds. With `strict`, a copy running
    /// on `other` is moved to `prefer` (checkpointed there and restored).
    /// Returns the VM it runs on; its links are re-attached there.
    pub(crate) fn settle(&self, n: usize, prefer: u32, other: u32, strict: bool) -> Result<u32> {
        let id = self.id(n);
        let spec = &self.specs.vnodes[n];
        let (p, o) = (self.vm(prefer), self.vm(other));
        let pp = retry(|| self.driver.probe(p, id));
        let po = retry(|| self.driver.probe(o, id));
        let running = |x: &Result<Presence>| x.as_ref().is_ok_and(|x| x.running);
        let image = |x: &Result<Presence>| x.as_ref().is_ok_and(|x| x.image);
        let at = if running(&pp) {
            if running(&po) {
                if let Err(e) = retry(|| self.driver.remove(o, id)) {
                    self.progress.log(&format!(
                        "a second copy of {id} on {o} could not be removed: {e}",
                        e = crate::error::one_line(&e)
                    ));
                }
            }
            prefer
        } else if running(&po) {
            if !strict {
                other
            } else {
                // The copy on `other` may have run since its restore: move it
                // back with its current state, not the older image `prefer`
                // may hold (files it changed would no longer match that image).
                match self.move_back(n, o, p) {
                    Ok(()) => prefer,
                    Err(e) => {
                        self.progress.log(&format!(
                            "moving {id} back from {o} to {p} failed ({e})",
                            e = crate::error::one_line(&e)
                        ));
                        // Still running there (the checkpoint failed), or
                        // back up there from the image it just left.
                        let stays = retry(|| self.driver.probe(o, id)).is_ok_and(|x| x.running)
                            || retry(|| self.driver.restore(o, spec)).is_ok();
                        if stays {
                            other
                        } else {
                            retry(|| self.driver.restore(p, spec))?;
                            prefer
                        }
                    }
                }
            }
        } else if image(&pp) {
            let _ = self.driver.remove(p, id);
            match retry(|| self.driver.restore(p, spec)) {
                Ok(()) => prefer,
                Err(e) if image(&po) => {
                    self.progress.log(&format!(
                        "restoring {id} on {p} failed ({e}); restoring it on {o}",
                        e = crate::error::one_line(&e)
                    ));
                    retry(|| self.driver.restore(o, spec))?;
                    other
                }
                Err(e) => return Err(e),
            }
        } else if image(&po) {
            retry(|| self.driver.restore(o, spec))?;
            other
        } else {
            let why = |x: &Result<Presence>| match x {
                Ok(_) => "nothing there".to_string(),
                Err(e) => format!("cannot ask: {e}", e = crate::error::one_line(e)),
            };
            return Err(Error::Host(format!(
                "{id} runs nowhere and has no image ({p}: {}; {o}: {})",
                why(&pp),
                why(&po)
            )));
        };
        self.set_live(n, at);
        retry(|| self.reattach(n))?;
        Ok(at)
    }
}

/// Try `f` up to [`ATTEMPTS`] times; the last error if all fail.
pub(crate) fn retry<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Run `step` for every VM in `vms` in parallel (one scoped thread each);
/// the VMs where it failed, with the error.
pub(crate) fn on_vms<F: Fn(u32) -> Result<()> + Sync>(vms: &[u32], step: F) -> Vec<(u32, String)> {
    std::thread::scope(|s| {
        let step = &step;
        let handles: Vec<_> = vms.iter().map(|&v| (v, s.spawn(move || step(v)))).collect();
        handles
            .into_iter()
            .filter_map(|(v, h)| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((v, crate::error::one_line(&e))),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

trait LowerFirst {
    fn to_lowercase_first(self) -> String;
}

impl LowerFirst for String {
    fn to_lowercase_first(self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => self,
        }
    }
}
