//! The driver's steps ([`VnodeDriver`] for [`TestbedDriver`]), in the
//! engine's order; the table in the parent module says what each does on
//! the VMs and which VMs it holds.

use super::*;
use crate::migrate::crash;
use crate::migrate::driver::{LinkSpec, Presence, VnodeDriver, VnodeSpec};

impl VnodeDriver for TestbedDriver {
    fn deploy(&self, vnodes: &[(VnodeSpec, String)], _links: &[LinkSpec]) -> Result<()> {
        self.with(|_| self.pool.vm_names().cloned().collect(), |d| {
            let placement = Placement { vm_of: vnodes.iter().map(|(n, vm)| (n.id.clone(), vm.clone())).collect(), ..Placement::default() };
            let report = crate::testbed::deploy(d.fleet, d.layout, &placement)?;
            let mut kinds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (vm, kind) in &report.cgroups {
                kinds.entry(kind).or_default().push(vm);
            }
            for (kind, vms) in kinds {
                crate::info!("netbalance: {kind} on {}", vms.join(", "));
            }
            if report.delay_not_applied > 0 {
                crate::info!(
                    "netbalance: {} link end(s) have a delay, which their VM cannot emulate (no sch_netem in its kernel): not applied",
                    report.delay_not_applied
                );
            }
            d.at = sites(d.layout, &placement)?;
            Ok(())
        })
    }

    fn pre_copy(&self, vnode: &str, from: &str, to: &str) -> Result<()> {
        if self.mode != MigrationMode::PreCopy {
            return Ok(());
        }
        // All or nothing: a round that failed may have reset the dirty
        // bits the next would have read, so earlier rounds are no parent.
        self.pre().remove(vnode);
        let before = self.cpu_now(&[from, to]);
        let t = Instant::now();
        let (mut sizes, mut round_s) = (Vec::new(), Vec::new());
        while precopy::another_round(&sizes, self.rounds.max_rounds, self.rounds.stop_mb) {
            let r = Instant::now();
            match self.pre_round(vnode, from, to, sizes.len() as u32 + 1)? {
                Some(bytes) => sizes.push(bytes),
                None => return Ok(()), // links only
            }
            round_s.push(r.elapsed().as_secs_f64());
        }
        if !sizes.is_empty() {
            let s = t.elapsed().as_secs_f64();
            // The busier of the two VMs: the experiment runs at its pace.
            let cpu_s = before.zip(self.cpu_now(&[from, to])).map(|(a, b)| {
                a.iter()
                    .zip(&b)
                    .map(|(a, b)| a.outside_vnodes_until(b))
                    .fold(0.0, f64::max)
            });
            self.pre()
                .insert(vnode.to_string(), (from.to_string(), sizes.len() as u32));
            self.timings.pre_copied(vnode, s, &sizes, &round_s, cpu_s);
        }
        Ok(())
    }

    fn suspend(&self, vm: &str, vnodes: &[String]) -> Result<()> {
        if self.mode == MigrationMode::PostCopy {
            // Before the pause starts: the first move of a machine would
            // otherwise pay for `criu check` while its VM is frozen.
            self.on(vm, |d| {
                for id in vnodes {
                    if d.has_process(id)? {
                        let paths = d.paths();
                        return self.mode_ready(d.fleet.exec(vm)?, &paths);
                    }
                }
                Ok(()) // links only: nothing for criu to move
            })?;
        }
        let t = Instant::now();
        self.on(vm, |d| d.set_frozen(vm, vnodes, true))?;
        self.timings.suspended(vm, t.elapsed().as_secs_f64());
        crash::after("suspended");
        Ok(())
    }

    fn resume(&self, vm: &str, vnodes: &[String]) -> Result<()> {
        let t = Instant::now();
        self.on(vm, |d| d.set_frozen(vm, vnodes, false))?;
        self.timings.resumed(vm, t.elapsed().as_secs_f64());
        Ok(())
    }

    fn checkpoint(&self, vm: &str, vnode: &str) -> Result<()> {
        let t = Instant::now();
        let dumped = self.on(vm, |d| {
            let (paths, cg, images) = (d.paths(), d.cgroup(vnode)?, d.images(vnode)?);
            let ns = Site::of(vnode, vm).netns;
            if !d.has_process(vnode)? {
                site::mark_no_process(d.fleet.exec(vm)?, &images)?;
                return Ok(None);
            }
            let pid = d
                .pid_in(vm, vnode, &ns)?
                .ok_or_else(|| Error::Host(format!("{vm}: {vnode} has no live process in {ns} to checkpoint")))?;
            // Over SSH the page server's relay listens on the VM's own address.
            let addr = d.fleet.route(vm)?.dst_addr;
            let ex = d.fleet.exec(vm)?;
            if self.mode == MigrationMode::PostCopy {
                self.mode_ready(ex, &paths)?; // done by `suspend` already: cached
            }
            safe_remove(ex, &images)?; // criu::dump's own removal then finds no mounts
            paths.cgroups.freeze(ex, &cg)?;
            crash::during("in-dump", &images);
            if self.mode == MigrationMode::PostCopy {
                let freezer = paths.cgroups.freezer_dir(ex, &cg)?;
                let mut unstick = |ex: &mut dyn crate::testbed::Executor| criu::thaw_briefly(ex, &paths, &cg);
                let l = if lazy::remote::is_remote(ex) {
                    let (bin, addr) = lazy::remote::binary_and_address(ex, &paths, addr)?;
                    Lazy::dump_over_ssh(ex, vm, &bin, &paths, &images, &freezer, &ns, pid, addr, &mut unstick)?
                } else {
                    Lazy::dump(ex, &paths, &images, &freezer, &ns, pid, &mut unstick)?
                };
                let bytes = ex.disk_usage(&images)?;
                self.lazy().insert(vnode.to_string(), l);
                // The dumped tasks stay, stopped, until every page is
                // served; the restore needs none of their pids (the vnode
                // has a pid namespace of its own): nothing to reap.
                return Ok(Some((pid, Vec::new(), bytes)));
            }
            let parent = self
                .pre()
                .get(vnode)
                .filter(|(src, _)| src == vm)
                .map(|&(_, round)| precopy::parent_of_images(&cg, round));
            let tree = criu::dump_frozen(ex, &paths, &cg, &ns, pid, parent.as_deref(), criu::DUMP_ATTEMPTS)?;
            let bytes = ex.disk_usage(&images)?;
            Ok(Some((pid, tree, bytes)))
        })?;
        let snapshot_s = t.elapsed().as_secs_f64();
        // The dumped tasks must be reaped before the vnode can be restored
        // (their pids): up to seconds when pid 1 reaps. Waited for without
        // the fleet lock, so that other moves go on meanwhile.
        let t = Instant::now();
        if let Some((_, tree, _)) = &dumped {
            self.wait_reaped(vm, tree)?;
        }
        let (root, bytes) = dumped.map_or((None, 0), |(pid, _, bytes)| (Some(pid), bytes));
        self.timings
            .checkpointed(vnode, vm, root, snapshot_s, t.elapsed().as_secs_f64(), bytes);
        crash::after("dumped");
        Ok(())
    }

    fn transfer(&self, vnode: &str, from: &str, to: &str) -> Result<()> {
        let t = Instant::now();
        let copied = self.send(vnode, from, to, |paths, cg| (paths.vnode_dir(cg), None))?;
        self.timings.transferred(vnode, t.elapsed().as_secs_f64(), copied);
        Ok(())
    }

    fn restore(&self, vm: &str, vnode: &VnodeSpec) -> Result<()> {
        let needs = |b: &Book| {
            let mut vms = self.around(b, &vnode.id);
            vms.insert(vm.to_string());
            vms
        };
        self.with(needs, |d| {
            let id = vnode.id.as_str();
            let (paths, cg, images) = (d.paths(), d.cgroup(id)?, d.images(id)?);
            let site = Site::of(id, vm);
            let ex = d.fleet.exec(vm)?;
            if !site::has_image(ex, &images)? {
                return Err(Error::Host(format!("{vm}: no image of {id} to restore")));
            }
            // A post-copy move in flight: its criu (the page server) works
            // on the images, and the dumped tasks wait in the vnode's group.
            let lazy = self.lazy().contains_key(id);
            if !lazy && lazy::is_lazy_image(ex, &images)? {
                return Err(Error::Host(format!(
                    "{vm}: the image of {id} is a post-copy dump's, without its memory pages: not restored"
                )));
            }
            if d.has_process(id)? && !lazy {
                wait_criu_done(d.fleet.exec(vm)?, &images)?;
            }
            let ex = d.fleet.exec(vm)?;
            site::delete_netns(ex, &site.netns)?;
            paths.cgroups.create(ex, &cg)?;
            if d.layout.vnode(id)?.run.is_some() && !lazy {
                // The vnode runs nowhere (the engine restores only then): tasks
                // still in its group are left from a restore cut short (a
                // crash), and hold the pids the image needs.
                let ex = d.fleet.exec(vm)?;
                let left = paths.cgroups.pids(ex, &cg).unwrap_or_default();
                if !left.is_empty() {
                    crate::info!(
                        "netbalance: {vm}: killing {} task(s) left in the group of {id} by an unfinished restore",
                        left.len()
                    );
                    criu::kill_tree(ex, &paths, &cg)?;
                }
            }
            if d.layout.vnode(id)?.run.is_some() && !lazy {
                // The vnode's last pid may still be a zombie (killed, not yet
                // reaped by pid 1): criu needs it free.
                let ex = d.fleet.exec(vm)?;
                if let Some(pid) = running_pid(ex, &paths, &cg)? {
                    if site::is_zombie(ex, pid) {
                        criu::wait_gone(ex, pid, Duration::from_secs(10))?;
                    }
                }
            }
            // The links' old ends are retired from where the driver last had
            // the vnode or tried to restore it (for one it never placed: where
            // it goes now).
            let old =
                d.at.insert(id.to_string(), site.clone())
                    .unwrap_or_else(|| site.clone());
            let with_process = d.layout.vnode(id)?.run.is_some();
            // The namespace is always a fresh one (any earlier one was deleted
            // above); on a failure after `restore_moved`'s `criu restore`, the
            // tree is stopped again here and the engine restores the vnode at
            // its source from its images.
            crash::during("in-restore", &images);
            let started = match self.lazy().get_mut(id) {
                Some(l) => {
                    let ex = d.fleet.exec(vm)?;
                    if lazy::remote::is_remote(ex) {
                        lazy::remote::binary_and_address(ex, &paths, Some(l.addr))
                            .and_then(|(bin, _)| l.start_daemon_over_ssh(ex, vm, &bin, &paths))
                    } else {
                        l.start_daemon(&paths)
                    }
                }
                None => Ok(()),
            };
            let up = match started.and_then(|()| {
                let how = criu::RestoreAs {
                    with_process,
                    frozen: true,
                    lazy,
                };
                criu::restore_moved(d.fleet, d.layout, &d.at, id, &old, how)
            }) {
                Ok(up) => up,
                Err(e) => {
                    if let Some(l) = self.lazy().remove(id) {
                        l.abort(&mut |vm, f| f(d.fleet.exec(vm)?));
                    }
                    // The book keeps the vnode here: its links may point here
                    // now (re-attached before the restore failed), and the
                    // next restore retires the peers' ends from here. A peer's
                    // end taken for a veth (renamed, kept) when it is a tunnel
                    // keeps the tunnel's VNI taken on the peer's VM, and the
                    // next tunnel with it failed ("VNI already exists");
                    // deleting an end that is a veth after all only costs time.
                    return Err(e);
                }
            };
            self.timings.restored(id, vm, up.pid, up.reattach_s, up.restore_s);
            let peers = d
                .layout
                .vnode(id)?
                .ifaces
                .iter()
                .map(|f| (f.peer.clone(), d.at[&f.peer].vm.clone()))
                .collect();
            d.linked.insert(id.to_string(), peers);
            Ok(())
        })?;
        crash::after("restored");
        Ok(())
    }

    fn reattach(&self, vnode: &str, links: &[LinkSpec]) -> Result<()> {
        let needs = |b: &Book| {
            let mut vms = self.around(b, vnode);
            for l in links {
                vms.extend([l.a_vm.clone(), l.b_vm.clone()]);
                vms.extend(
                    [&l.a, &l.b]
                        .into_iter()
                        .filter_map(|x| b.at.get(x.as_str()))
                        .map(|s| s.vm.clone()),
                );
            }
            vms
        };
        let t = Instant::now();
        self.with(needs, |d| {
            for l in links {
                d.at.insert(l.a.clone(), Site::of(&l.a, &l.a_vm));
                d.at.insert(l.b.clone(), Site::of(&l.b, &l.b_vm));
            }
            let peers: Vec<(String, String)> = d
                .layout
                .vnode(vnode)?
                .ifaces
                .iter()
                .map(|f| (f.peer.clone(), d.at[&f.peer].vm.clone()))
                .collect();
            if d.linked.remove(vnode).as_ref() == Some(&peers) {
                return Ok(()); // made by the restore, to the same places
            }
            reattach(d.fleet, d.layout, &d.at, vnode, false)?;
            self.timings.reattached(vnode, t.elapsed().as_secs_f64());
            Ok(())
        })?;
        crash::after("reattached");
        Ok(())
    }

    fn remove(&self, vm: &str, vnode: &str) -> Result<()> {
        let killed = self.with(Self::and_where_it_runs(vm, vnode), |d| {
            let (paths, cg) = (d.paths(), d.cgroup(vnode)?);
            let ns = Site::of(vnode, vm).netns;
            let mut tasks = Vec::new();
            if d.has_process(vnode)? && d.pid_in(vm, vnode, &ns)?.is_some() {
                let ex = d.fleet.exec(vm)?;
                tasks = paths.cgroups.pids(ex, &cg).unwrap_or_default();
                paths.cgroups.kill_and_remove(ex, &cg)?;
            }
            let ex = d.fleet.exec(vm)?;
            site::delete_netns(ex, &ns)?;
            // Nothing of the vnode left on this machine (no namespace, no
            // image: the engine discards images before it removes the
            // vnode from a move's source): its state dir and groups go too.
            let images = paths.vnode_dir(&cg).join("images");
            if !site::has_image(ex, &images)? && !d.state_dir_in_use(vm, vnode)? {
                d.remove_dir(vm, vnode, &paths.vnode_dir(&cg))?;
                if self.mode == MigrationMode::PreCopy {
                    d.remove_dir(vm, vnode, &precopy::dir(&paths, &cg))?;
                }
                let ex = d.fleet.exec(vm)?;
                paths.cgroups.remove_if_empty(ex, &cg)?;
                // The last vnode gone: the cgroup subtree (systemd: its unit) too.
                paths.cgroups.cleanup(ex)?;
            }
            d.linked.remove(vnode);
            Ok(tasks)
        })?;
        // Until they are reaped their pids are taken, and a restore of the
        // vnode (the next step of a rollback) would fail.
        self.wait_reaped(vm, &killed)
    }

    fn discard_image(&self, vm: &str, vnode: &str) -> Result<()> {
        // Post-copy: the images (and the source's page server) are needed
        // until every page has arrived.
        self.finish_pages(vnode)?;
        self.pre().remove(vnode);
        self.with(Self::and_where_it_runs(vm, vnode), |d| {
            let (paths, cg, images) = (d.paths(), d.cgroup(vnode)?, d.images(vnode)?);
            if self.mode == MigrationMode::PreCopy {
                d.remove_dir(vm, vnode, &precopy::dir(&paths, &cg))?;
            }
            let ex = d.fleet.exec(vm)?;
            let alive = match running_pid(ex, &paths, &cg)? {
                // A killed task may wait seconds for pid 1 to reap it: a zombie is not alive.
                Some(pid) => !site::is_zombie(ex, pid),
                None => false,
            };
            d.remove_dir(vm, vnode, &images)?;
            // Nothing of the vnode left on this machine: its state dir and groups go too.
            if !alive && !d.state_dir_in_use(vm, vnode)? {
                d.remove_dir(vm, vnode, &paths.vnode_dir(&cg))?;
                let ex = d.fleet.exec(vm)?;
                paths.cgroups.remove_if_empty(ex, &cg)?;
            }
            Ok(())
        })
    }

    fn measured(&self) -> Vec<crate::testbed::MigrationTimes> {
        self.timings.moves()
    }

    fn probe(&self, vm: &str, vnode: &str) -> Result<Presence> {
        if !self.lazy().contains_key(vnode) {
            let tree = self.on(vm, |d| d.take_up_post_copy(vm, vnode))?;
            self.wait_reaped(vm, &tree)?;
        }
        self.on(vm, |d| {
            let images = d.images(vnode)?;
            if d.has_process(vnode)? {
                wait_criu_done(d.fleet.exec(vm)?, &images)?; // a vnode without `run` never has criu
            }
            let running = d.runs_at(vm, vnode)?;
            // A post-copy dump's images lack the pages: nothing to restore from.
            let ex = d.fleet.exec(vm)?;
            let image = site::has_image(ex, &images)? && !lazy::is_lazy_image(ex, &images)?;
            Ok(Presence { running, image })
        })
    }
}
