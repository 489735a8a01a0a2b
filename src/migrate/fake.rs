//! A test double of the testbed: an in-process world of VMs holding running
//! vnodes, images and links, with fault injection (fail a step kind at its
//! n-th call, before or after its effect; make a VM unreachable; crash).
//! It checks what a real testbed would make impossible or harmful: a vnode
//! running twice, a checkpoint of a vnode that was not frozen, two moves on
//! one VM at once, and (in [`World::check`]) a link left attached to the
//! wrong place. The engine's tests
//! use it directly; the CLI tests reach it through `NETBALANCE_TEST_DRIVER`
//! (see [`FakeDriver::from_spec`]), with the world kept in a JSON file.

use super::driver::{LinkSpec, Presence, VnodeDriver, VnodeSpec};
use crate::cost::Instance;
use crate::error::{Error, Result};
use crate::state::journal::Step;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A running copy of a vnode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub vm: String,
    pub frozen: bool,
    /// How far the vnode's own state has come: +1 at every restore (a
    /// restored tree runs a little before it is frozen).
    #[serde(default)]
    pub state: u32,
}

/// Everything the fake testbed holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Running copies per vnode (more than one is a violation).
    pub running: BTreeMap<String, Vec<Copy>>,
    /// VMs holding an image of each vnode.
    pub images: BTreeMap<String, BTreeSet<String>>,
    /// Per link `a|b`, the VMs its ends were attached at.
    pub links: BTreeMap<String, (String, String)>,
    /// Things a real testbed must never see.
    pub violations: Vec<String>,
    /// Per vnode, per VM holding an image: the state it was taken at.
    #[serde(default)]
    pub image_state: BTreeMap<String, BTreeMap<String, u32>>,
    /// Per vnode, the furthest state any copy of it reached: restoring an
    /// older image loses what the vnode did since (a violation).
    #[serde(default)]
    pub newest: BTreeMap<String, u32>,
}

impl World {
    fn where_runs(&self, n: &str) -> Vec<&Copy> {
        self.running.get(n).map(|c| c.iter().collect()).unwrap_or_default()
    }

    /// Check the world holds exactly `vm_of`: every vnode running once, on
    /// its VM, thawed; nothing else running; links attached where their ends
    /// run; no violation seen.
    pub fn check(&self, vm_of: &BTreeMap<String, String>) -> std::result::Result<(), String> {
        if !self.violations.is_empty() {
            return Err(format!("violations: {:?}", self.violations));
        }
        for (n, vm) in vm_of {
            match self.where_runs(n).as_slice() {
                [c] if &c.vm == vm && !c.frozen => {}
                [c] if &c.vm == vm => return Err(format!("{n} on {vm} is still frozen")),
                copies => return Err(format!("{n} should run once on {vm}, runs {copies:?}")),
            }
        }
        for (n, copies) in &self.running {
            if !copies.is_empty() && !vm_of.contains_key(n) {
                return Err(format!("{n} runs ({copies:?}) but is not in the placement"));
            }
        }
        for (key, (a_vm, b_vm)) in &self.links {
            let (a, b) = key.split_once('|').expect("link key a|b");
            if vm_of.contains_key(a) && vm_of.contains_key(b) && (vm_of[a] != *a_vm || vm_of[b] != *b_vm) {
                return Err(format!(
                    "link {key} attached at ({a_vm}, {b_vm}), ends run on ({}, {})",
                    vm_of[a], vm_of[b]
                ));
            }
        }
        Ok(())
    }

    /// The number of images still stored.
    pub fn image_count(&self) -> usize {
        self.images.values().map(BTreeSet::len).sum()
    }
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The `nth` call (1-based) of `step` fails without any effect.
    Fail { step: Step, nth: usize },
    /// The `nth` call of `step` takes effect, then reports failure (a lost reply).
    FailAfter { step: Step, nth: usize },
    /// From the `from`-th driver call touching `vm` on (1-based, all
    /// kinds), `calls` calls touching it fail (an SSH connection that dropped).
    Unreachable { vm: String, from: usize, calls: usize },
    /// The `nth` call of `step` crashes the process before its effect
    /// (a panic in-process; `abort` when `crash_aborts`).
    Crash { step: Step, nth: usize },
}

/// The fake driver.
pub struct FakeDriver {
    world: Mutex<World>,
    faults: Vec<Fault>,
    counts: Mutex<(HashMap<String, usize>, HashMap<Step, usize>)>,
    busy: Mutex<(HashMap<String, usize>, usize, usize)>,
    persist: Option<PathBuf>,
    timing: Option<(Instance, f64)>,
    crash_aborts: bool,
    /// Moves pre-copy: [`VnodeDriver::pre_copy`] is a step (else it does nothing).
    pre_copy: bool,
}

impl FakeDriver {
    pub fn new(world: World) -> FakeDriver {
        FakeDriver {
            world: Mutex::new(world),
            faults: Vec::new(),
            counts: Mutex::new((HashMap::new(), HashMap::new())),
            busy: Mutex::new((HashMap::new(), 0, 0)),
            persist: None,
            timing: None,
            crash_aborts: false,
            pre_copy: false,
        }
    }

    /// Move pre-copy: every move has a pre-copy step first, which fails
    /// unless the vnode runs, thawed, on its source.
    pub fn with_pre_copy(mut self) -> FakeDriver {
        self.pre_copy = true;
        self
    }

    pub fn with_fault(mut self, fault: Fault) -> FakeDriver {
        self.faults.push(fault);
        self
    }

    /// Make every step take its modelled time (model §3) times `scale`.
    pub fn with_timing(mut self, inst: &Instance, scale: f64) -> FakeDriver {
        self.timing = Some((inst.clone(), scale));
        self
    }

    /// Build from `NETBALANCE_TEST_DRIVER`'s value:
    /// `fake:WORLD.json[,fail=STEP:N][,fail-after=STEP:N][,crash=STEP:N][,unreachable=VM:FROM:CALLS][,scale=X]`.
    /// The world is read from the file (empty if missing) and written back
    /// after every step; `crash` aborts the process.
    pub fn from_spec(spec: &str, inst: &Instance) -> Result<FakeDriver> {
        let bad = |m: String| Error::usage(format!("NETBALANCE_TEST_DRIVER={spec:?}: {m}"));
        let rest = spec
            .strip_prefix("fake:")
            .ok_or_else(|| bad("expected fake:WORLD.json[,...]".into()))?;
        let mut parts = rest.split(',');
        let path = PathBuf::from(parts.next().unwrap_or_default());
        let world = match std::fs::read_to_string(&path) {
            Ok(text) => crate::io::parse_json(&text, &path.display().to_string())?,
            Err(_) => World::default(),
        };
        let mut d = FakeDriver::new(world);
        d.persist = Some(path);
        d.crash_aborts = true;
        let step_n = |v: &str| -> Result<(Step, usize)> {
            let (s, n) = v
                .split_once(':')
                .ok_or_else(|| bad(format!("{v:?}: expected STEP:N")))?;
            let step: Step = serde_json::from_value(serde_json::Value::String(s.into()))
                .map_err(|_| bad(format!("unknown step {s:?}")))?;
            Ok((step, n.parse().map_err(|_| bad(format!("bad count {n:?}")))?))
        };
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?}: expected KEY=VALUE")))?;
            match k {
                "fail" => step_n(v).map(|(step, nth)| d.faults.push(Fault::Fail { step, nth }))?,
                "fail-after" => step_n(v).map(|(step, nth)| d.faults.push(Fault::FailAfter { step, nth }))?,
                "crash" => step_n(v).map(|(step, nth)| d.faults.push(Fault::Crash { step, nth }))?,
                "unreachable" => {
                    let f: Vec<&str> = v.split(':').collect();
                    let [vm, from, calls] = f.as_slice() else {
                        return Err(bad(format!("{v:?}: expected VM:FROM:CALLS")));
                    };
                    let num = |s: &str| s.parse::<usize>().map_err(|_| bad(format!("bad number {s:?}")));
                    d.faults.push(Fault::Unreachable {
                        vm: vm.to_string(),
                        from: num(from)?,
                        calls: num(calls)?,
                    });
                }
                "scale" => {
                    let scale: f64 = v.parse().map_err(|_| bad(format!("bad scale {v:?}")))?;
                    d.timing = Some((inst.clone(), scale));
                }
                _ => return Err(bad(format!("unknown key {k:?}"))),
            }
        }
        Ok(d)
    }

    /// A copy of the world as it is now.
    pub fn world(&self) -> World {
        self.world.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The most moves seen running at once.
    pub fn max_parallel_moves(&self) -> usize {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).2
    }

    /// Count the call, apply faults that strike before the effect; returns
    /// whether a `FailAfter` fault strikes after it.
    fn enter(&self, step: Step, vms: &[&str]) -> Result<bool> {
        let (calls, nth) = {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let calls: HashMap<String, usize> = vms
                .iter()
                .map(|vm| {
                    let k = c.0.entry(vm.to_string()).or_insert(0);
                    *k += 1;
                    (vm.to_string(), *k)
                })
                .collect();
            let n = c.1.entry(step).or_insert(0);
            *n += 1;
            (calls, *n)
        };
        let mut after = false;
        for f in &self.faults {
            match f {
                Fault::Fail { step: s, nth: k } if *s == step && *k == nth => {
                    return Err(Error::Host(format!(
                        "injected failure of {step:?} call {nth} on {}",
                        vms.join(",")
                    )));
                }
                Fault::FailAfter { step: s, nth: k } if *s == step && *k == nth => after = true,
                Fault::Unreachable { vm, from, calls: n }
                    if calls
                        .get(vm)
                        .is_some_and(|&k| k >= *from && k < from.saturating_add(*n)) =>
                {
                    return Err(Error::Host(format!(
                        "ssh to {vm}: connection dropped (injected, call {} to it)",
                        calls[vm]
                    )));
                }
                Fault::Crash { step: s, nth: k } if *s == step && *k == nth => {
                    if self.crash_aborts {
                        eprintln!("netbalance: injected crash at {step:?} call {nth}");
                        std::process::abort();
                    }
                    panic!("injected crash at {step:?} call {nth}");
                }
                _ => {}
            }
        }
        Ok(after)
    }

    /// Do `effect` on the world as step `step` on `vms`, with faults,
    /// timing and persistence.
    fn act(&self, step: Step, vms: &[&str], seconds: f64, effect: impl FnOnce(&mut World) -> Result<()>) -> Result<()> {
        let fail_after = self.enter(step, vms)?;
        let is_move_step = matches!(step, Step::Checkpoint | Step::Transfer | Step::Restore);
        if is_move_step {
            let mut b = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            for vm in vms {
                let k = b.0.entry(vm.to_string()).or_insert(0);
                *k += 1;
                if *k > 1 {
                    self.world
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .violations
                        .push(format!("two moves at once on {vm}"));
                }
            }
            b.1 += 1;
            b.2 = b.2.max(b.1);
        }
        if let Some((_, scale)) = &self.timing {
            std::thread::sleep(Duration::from_secs_f64((seconds * scale).max(0.0)));
        }
        let result = {
            let mut w = self.world.lock().unwrap_or_else(|e| e.into_inner());
            let r = effect(&mut w);
            if let Some(path) = &self.persist {
                let bytes = serde_json::to_vec_pretty(&*w).expect("world serialises");
                crate::io::write_atomic(path, &bytes)?;
            }
            r
        };
        if is_move_step {
            let mut b = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            for vm in vms {
                *b.0.get_mut(*vm).expect("entered") -= 1;
            }
            b.1 -= 1;
        }
        result?;
        if fail_after {
            return Err(Error::Host(format!(
                "injected failure after {step:?} on {} (the step was done)",
                vms.join(",")
            )));
        }
        Ok(())
    }

    /// Modelled seconds of a step (0 without timing).
    fn secs(&self, f: impl Fn(&Instance) -> f64) -> f64 {
        self.timing.as_ref().map_or(0.0, |(inst, _)| f(inst))
    }
    fn mb(inst: &Instance, n: &str) -> f64 {
        inst.vnode(n).map_or(0.0, |i| inst.memory_mb[i as usize])
    }
}

fn host_err(m: String) -> Error {
    Error::Host(m)
}

impl VnodeDriver for FakeDriver {
    fn deploy(&self, vnodes: &[(VnodeSpec, String)], links: &[LinkSpec]) -> Result<()> {
        let mut vms: Vec<&str> = vnodes.iter().map(|(_, vm)| vm.as_str()).collect();
        vms.sort_unstable();
        vms.dedup();
        self.act(Step::Deploy, &vms, 0.0, |w| {
            for (n, vm) in vnodes {
                let copies = w.running.entry(n.id.clone()).or_default();
                if copies.iter().any(|c| &c.vm == vm) {
                    continue;
                }
                if !copies.is_empty() {
                    let msg = format!("deploy of {} on {vm} while it runs on {:?}", n.id, copies);
                    w.violations.push(msg);
                }
                w.running.entry(n.id.clone()).or_default().push(Copy {
                    vm: vm.clone(),
                    frozen: false,
                    state: 0,
                });
            }
            attach(w, links);
            Ok(())
        })
    }

    fn pre_copy(&self, vnode: &str, from: &str, to: &str) -> Result<()> {
        if !self.pre_copy {
            return Ok(());
        }
        let t = self.secs(|i| Self::mb(i, vnode) * i.costs.snapshot_ms_per_mb / 1000.0);
        self.act(Step::PreCopy, &[from, to], t, |w| {
            let copies = w.running.get(vnode).map(Vec::as_slice).unwrap_or_default();
            match copies.iter().find(|c| c.vm == from) {
                Some(c) if c.frozen => {
                    w.violations.push(format!("pre-copy of {vnode} on {from} while frozen"));
                    Ok(())
                }
                Some(_) => Ok(()),
                None => Err(host_err(format!("pre-copy: {vnode} does not run on {from}"))),
            }
        })
    }

    fn suspend(&self, vm: &str, vnodes: &[String]) -> Result<()> {
        let t = self.secs(|i| i.costs.suspend_ms * vnodes.len() as f64 / 1000.0);
        self.act(Step::Suspend, &[vm], t, |w| set_frozen(w, vm, vnodes, true))
    }

    fn resume(&self, vm: &str, vnodes: &[String]) -> Result<()> {
        let t = self.secs(|i| i.costs.resume_ms * vnodes.len() as f64 / 1000.0);
        self.act(Step::Resume, &[vm], t, |w| set_frozen(w, vm, vnodes, false))
    }

    fn checkpoint(&self, vm: &str, vnode: &str) -> Result<()> {
        let t = self.secs(|i| Self::mb(i, vnode) * i.costs.snapshot_ms_per_mb / 1000.0);
        self.act(Step::Checkpoint, &[vm], t, |w| {
            let copies = w.running.entry(vnode.into()).or_default();
            let Some(k) = copies.iter().position(|c| c.vm == vm) else {
                return Err(host_err(format!("checkpoint: {vnode} does not run on {vm}")));
            };
            if !copies[k].frozen {
                w.violations
                    .push(format!("checkpoint of {vnode} on {vm} while not frozen"));
            }
            let copy = copies.remove(k);
            w.images.entry(vnode.into()).or_default().insert(vm.into());
            w.image_state
                .entry(vnode.into())
                .or_default()
                .insert(vm.into(), copy.state);
            Ok(())
        })
    }

    fn transfer(&self, vnode: &str, from: &str, to: &str) -> Result<()> {
        let t = self.secs(|i| {
            let same_host = i
                .vm(from)
                .zip(i.vm(to))
                .is_some_and(|(a, b)| i.vm_host[a as usize] == i.vm_host[b as usize]);
            let per = if same_host {
                i.costs.transfer_ms_per_mb.host
            } else {
                i.costs.transfer_ms_per_mb.net
            };
            Self::mb(i, vnode) * per / 1000.0
        });
        self.act(Step::Transfer, &[from, to], t, |w| {
            let imgs = w.images.entry(vnode.into()).or_default();
            if !imgs.contains(from) {
                return Err(host_err(format!("transfer: no image of {vnode} on {from}")));
            }
            imgs.insert(to.into());
            let states = w.image_state.entry(vnode.into()).or_default();
            let at = states.get(from).copied().unwrap_or(0);
            states.insert(to.into(), at);
            Ok(())
        })
    }

    fn restore(&self, vm: &str, vnode: &VnodeSpec) -> Result<()> {
        let t = self.secs(|i| Self::mb(i, &vnode.id) * i.costs.restore_ms_per_mb / 1000.0);
        self.act(Step::Restore, &[vm], t, |w| {
            if !w.images.get(&vnode.id).is_some_and(|s| s.contains(vm)) {
                return Err(host_err(format!("restore: no image of {} on {vm}", vnode.id)));
            }
            let copies = w.running.entry(vnode.id.clone()).or_default();
            if copies.iter().any(|c| c.vm == vm) {
                return Ok(());
            }
            if !copies.is_empty() {
                let msg = format!("restore of {} on {vm} while it runs on {:?}", vnode.id, copies);
                w.violations.push(msg);
            }
            let state = w
                .image_state
                .get(&vnode.id)
                .and_then(|s| s.get(vm))
                .copied()
                .unwrap_or(0);
            let newest = w.newest.entry(vnode.id.clone()).or_default();
            if state < *newest {
                let msg = format!(
                    "restore of {} on {vm} from an image of state {state}, older than a copy that ran ({newest})",
                    vnode.id
                );
                w.violations.push(msg);
            }
            *newest = (*newest).max(state + 1);
            w.running.entry(vnode.id.clone()).or_default().push(Copy {
                vm: vm.into(),
                frozen: true,
                state: state + 1,
            });
            Ok(())
        })
    }

    fn reattach(&self, _vnode: &str, links: &[LinkSpec]) -> Result<()> {
        let mut vms: Vec<&str> = links.iter().flat_map(|l| [l.a_vm.as_str(), l.b_vm.as_str()]).collect();
        vms.sort_unstable();
        vms.dedup();
        let t = self.secs(|i| i.costs.reattach_ms / 1000.0);
        self.act(Step::Reattach, &vms, t, |w| {
            attach(w, links);
            Ok(())
        })
    }

    fn remove(&self, vm: &str, vnode: &str) -> Result<()> {
        self.act(Step::Remove, &[vm], 0.0, |w| {
            if let Some(copies) = w.running.get_mut(vnode) {
                copies.retain(|c| c.vm != vm);
            }
            let running = w.running.get(vnode).is_some_and(|c| !c.is_empty());
            if !running {
                w.links.retain(|k, _| k.split('|').all(|x| x != vnode));
            }
            Ok(())
        })
    }

    fn discard_image(&self, vm: &str, vnode: &str) -> Result<()> {
        self.act(Step::Remove, &[vm], 0.0, |w| {
            if let Some(imgs) = w.images.get_mut(vnode) {
                imgs.remove(vm);
                if imgs.is_empty() {
                    w.images.remove(vnode);
                }
            }
            if let Some(states) = w.image_state.get_mut(vnode) {
                states.remove(vm);
                if states.is_empty() {
                    w.image_state.remove(vnode);
                }
            }
            Ok(())
        })
    }

    fn probe(&self, vm: &str, vnode: &str) -> Result<Presence> {
        let mut p = Presence::default();
        self.act(Step::Probe, &[vm], 0.0, |w| {
            p.running = w.where_runs(vnode).iter().any(|c| c.vm == vm);
            p.image = w.images.get(vnode).is_some_and(|s| s.contains(vm));
            Ok(())
        })?;
        Ok(p)
    }
}

fn attach(w: &mut World, links: &[LinkSpec]) {
    for l in links {
        let key = if l.a < l.b {
            format!("{}|{}", l.a, l.b)
        } else {
            format!("{}|{}", l.b, l.a)
        };
        let ends = if l.a < l.b {
            (l.a_vm.clone(), l.b_vm.clone())
        } else {
            (l.b_vm.clone(), l.a_vm.clone())
        };
        w.links.insert(key, ends);
    }
}

fn set_frozen(w: &mut World, vm: &str, vnodes: &[String], frozen: bool) -> Result<()> {
    for n in vnodes {
        let copy = w.running.get_mut(n).and_then(|c| c.iter_mut().find(|c| c.vm == vm));
        match copy {
            Some(c) => c.frozen = frozen,
            None => return Err(host_err(format!("{n} does not run on {vm}"))),
        }
    }
    Ok(())
}
