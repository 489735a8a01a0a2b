//! A [`Fleet`] shared by threads: each VM's executor behind a lock of its
//! own, so that steps on different VMs run at once and steps on one VM one
//! after another.
//!
//! A step names the VMs it touches and [`FleetPool::hold`]s them: their
//! locks are taken in one global order (VM names, sorted), so two steps
//! that each need several VMs cannot deadlock, and the step gets a `Fleet`
//! that reaches only those VMs (using another one is an error, not a silent
//! race). When the [`Held`] is dropped the executors go back to the pool.
//!
//! One executor (one SSH session) per VM, as in `Fleet`: two VMs of one
//! machine do not share a session, so they never wait for each other here.
//! Host-wide commands that must not interleave between VMs of one machine
//! take that machine's lock ([`super::vnode::machine_lock`]) themselves.

use super::vnode::{Fleet, Paths, VmHandle};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// The VMs of a fleet, each lockable on its own.
pub struct FleetPool {
    /// The fleet's settings (paths, SSH options, dry-run log), no handle.
    template: Mutex<Fleet>,
    /// Per VM its handle once connected (`None` before, or after a step panicked).
    slots: BTreeMap<String, Mutex<Option<VmHandle>>>,
    paths: Paths,
}

/// The VMs a step holds, and a fleet restricted to them.
pub struct Held<'a> {
    guards: Vec<(String, MutexGuard<'a, Option<VmHandle>>)>,
    pub fleet: Fleet,
}

impl FleetPool {
    /// Every VM of `fleet` (and every handle it has opened) in the pool.
    pub fn new(mut fleet: Fleet) -> FleetPool {
        let mut handles = fleet.take_handles();
        let slots = fleet
            .vm_names()
            .map(|vm| (vm.clone(), Mutex::new(handles.remove(vm))))
            .collect();
        let paths = fleet.paths.clone();
        FleetPool {
            template: Mutex::new(fleet),
            slots,
            paths,
        }
    }

    /// The fleet again, with every handle the pool holds (none may be held
    /// by a step: `self` is owned).
    pub fn into_fleet(self) -> Fleet {
        let mut fleet = self.template.into_inner().unwrap_or_else(|e| e.into_inner());
        for (vm, slot) in self.slots {
            if let Some(h) = slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
                fleet.insert(&vm, h);
            }
        }
        fleet
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The names of all VMs, sorted.
    pub fn vm_names(&self) -> impl Iterator<Item = &String> {
        self.slots.keys()
    }

    /// Lock `vms` (each once, in sorted order; waits while another step
    /// holds one of them) and return a fleet reaching only them.
    /// Complexity: O(k log k) for k VMs, plus the waits.
    pub fn hold<S: AsRef<str>>(&self, vms: impl IntoIterator<Item = S>) -> Result<Held<'_>> {
        let wanted: BTreeSet<String> = vms.into_iter().map(|v| v.as_ref().to_string()).collect();
        let mut guards = Vec::with_capacity(wanted.len());
        let mut handles = BTreeMap::new();
        for vm in &wanted {
            let slot = self
                .slots
                .get(vm)
                .ok_or_else(|| Error::Host(format!("VM {vm:?} is not in the testbed")))?;
            let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = g.take() {
                handles.insert(vm.clone(), h);
            }
            guards.push((vm.clone(), g));
        }
        let fleet = self
            .template
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .part(wanted, handles);
        Ok(Held { guards, fleet })
    }
}

impl Held<'_> {
    /// True if this step holds `vm`.
    pub fn holds(&self, vm: &str) -> bool {
        self.guards.iter().any(|(v, _)| v == vm)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut handles = self.fleet.take_handles();
        for (vm, g) in &mut self.guards {
            **g = handles.remove(vm.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Testbed;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_held_fleet_reaches_only_its_vms_and_keeps_connections() {
        let tb = Testbed::generate(1, 3, 1000.0);
        let (fleet, log) = Fleet::dry_run(&tb, Paths::default());
        let pool = FleetPool::new(fleet);
        {
            let mut h = pool.hold(["h0-v1", "h0-v0", "h0-v1"]).unwrap();
            assert!(h.holds("h0-v0") && h.holds("h0-v1") && !h.holds("h0-v2"));
            h.fleet
                .exec("h0-v0")
                .unwrap()
                .run(&crate::testbed::Cmd::new("true"))
                .unwrap();
            let err = h.fleet.exec("h0-v2").err().expect("h0-v2 is not held").to_string();
            assert!(err.contains("does not hold"), "{err}");
        }
        // The handle went back to the pool: the next holder has it.
        assert!(pool.slots["h0-v0"].lock().unwrap().is_some());
        assert!(pool.slots["h0-v2"].lock().unwrap().is_none());
        assert!(pool.hold(["nope"]).is_err());
        assert_eq!(log.lock().unwrap().as_slice(), ["h0-v0: true"]);
    }

    #[test]
    fn overlapping_holds_wait_and_disjoint_ones_do_not() {
        let tb = Testbed::generate(1, 4, 1000.0);
        let (fleet, _) = Fleet::dry_run(&tb, Paths::default());
        let pool = FleetPool::new(fleet);
        // Per VM, how many holders it has now; the most ever seen.
        let on: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
        let peak_vm = AtomicUsize::new(0);
        let (now, peak_all) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Pairs in both orders (a deadlock if locks were taken as given).
        let sets: [&[usize]; 6] = [&[0, 1], &[1, 0], &[2, 3], &[3, 2], &[1, 2], &[3, 0]];
        std::thread::scope(|s| {
            for t in 0..12 {
                let (pool, on, peak_vm, now, peak_all) = (&pool, &on, &peak_vm, &now, &peak_all);
                s.spawn(move || {
                    for k in 0..20 {
                        let set = sets[(t + k) % sets.len()];
                        let _h = pool.hold(set.iter().map(|i| format!("h0-v{i}"))).unwrap();
                        peak_all.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        for &i in set {
                            peak_vm.fetch_max(on[i].fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        }
                        std::thread::sleep(Duration::from_micros(300));
                        for &i in set {
                            on[i].fetch_sub(1, Ordering::SeqCst);
                        }
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(peak_vm.load(Ordering::SeqCst), 1, "two holders of one VM at once");
        assert_eq!(peak_all.load(Ordering::SeqCst), 2, "disjoint pairs never held at once");
    }
}
