//! Post-copy (model §3.1, CRIU lazy pages) between two stock Debian 12 VMs
//! over SSH: the lazy dump and the lazy-pages daemon run detached under
//! `netbalance pages` on their VMs, the pages go from the source VM's relay
//! to the destination. A vnode holding 16 MB that keeps writing moves
//! there and back post-copy, then stop-and-copy (its pause printed beside);
//! its own check of the whole buffer passes after each move, it runs once, and no criu, relay or image is left. A `migrate`
//! killed with the page server waiting for its daemon and one killed with
//! the pages in flight are taken up.

use super::lab;
use super::precopy::{checked_after, holder_alone, report, tasks};
use netbalance::migrate::move_one;
use netbalance::model::{MigrationMode, Placement};
use netbalance::state::StateDir;
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, Paths, SshArgs};
use std::time::Instant;

/// What of a post-copy move may linger on `vm`: criu and `netbalance
/// pages` processes, and images of the vnode's (its state dir's
/// `images/`).
fn lingering(lab: &lab::Lab, vm: &str, cg: &str) -> String {
    lab.ssh_ok(
        vm,
        &[
            "sh",
            "-c",
            &format!(
                "pgrep -a -x criu; pgrep -a -f '^/var/lib/netbalance/bin/.* pages'; \
                 ls -d /var/lib/netbalance/vnodes/{cg}/images 2>/dev/null; true"
            ),
        ],
    )
}

#[test]
fn post_copy_moves_a_vnode_that_keeps_writing_between_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    // The hosts test compares the VMs' processes before and after.
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].as_str(), lab.vms[1].as_str());
    // 16 MB: the pages under TCG take seconds per MB to arrive.
    let (id, topo) = holder_alone(256);
    let mut testbed = lab.testbed();
    let paths = Paths {
        keeper: Some(env!("CARGO_BIN_EXE_netbalance").to_string()),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, SshArgs::default().options(&testbed), paths);
    let layout = Layout::new(&topo).unwrap();
    let mut placement = Placement::default();
    placement.vm_of.insert(id.clone(), h0.to_string());
    let state = tempfile::tempdir().unwrap();
    let journal = StateDir::open(state.path().join("journal")).unwrap();
    let cg = names::cgroup_name(&id);

    deploy(&mut fleet, &layout, &placement).unwrap();
    struct Down<'a>(&'a mut Fleet, &'a Layout, Placement);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = teardown(self.0, self.1, &self.2);
        }
    }
    let mut down = Down(&mut fleet, &layout, placement);
    let mut last = checked_after(lab, h0, &cg, 20).last().unwrap().0;
    for (mode, from, to) in [
        (MigrationMode::PostCopy, h0, h1),
        (MigrationMode::PostCopy, h1, h0),
        (MigrationMode::StopCopy, h0, h1),
    ] {
        testbed.migration = Some(mode);
        let t = move_one(down.0, &topo, &testbed, &mut down.2, &id, to, &journal).unwrap();
        report(&format!("{} {from} -> {to}", mode.as_str()), &t);
        assert_eq!(down.2.vm_of[&id], to);
        eprintln!("  {}", t.summary());
        if mode == MigrationMode::PostCopy {
            // The destination's daemon log, read over SSH: ~4,000 pages of 16 MB.
            assert!(t.lazy_pages > 3_000, "{t:?}");
            assert!(t.fault_fraction().is_some_and(|f| f < 1.0), "{t:?}");
            assert!(
                t.image_bytes < 8_000_000,
                "the pause dumps the state without the 16 MB of pages: {t:?}"
            );
        }
        let after = checked_after(lab, to, &cg, last + 30);
        assert!(after.iter().all(|l| l.1 == "ok"), "{from} -> {to}: {after:?}");
        let steps: Vec<u64> = after.iter().map(|l| l.0).collect();
        assert_eq!(
            steps,
            (1..=steps.len() as u64).map(|i| i * 10).collect::<Vec<_>>(),
            "{from} -> {to}: checks missing or repeated"
        );
        assert_eq!(tasks(lab, to, &cg).len(), 1, "not once on {to}");
        assert!(tasks(lab, from, &cg).is_empty(), "still on {from}");
        for vm in [from, to] {
            let left = lingering(lab, vm, &cg);
            assert!(left.trim().is_empty(), "{vm}: left after the move: {left}");
        }
        last = after.last().unwrap().0;
    }
    let final_placement = down.2.clone();
    teardown(down.0, &layout, &final_placement).unwrap();
}

/// `netbalance migrate --migration post-copy` killed (the driver's crash
/// hook) once the lazy dump was made (its page server waiting for a
/// daemon), then taken up with `--rollback`; and killed once restored, its
/// pages in flight between the VMs, then taken up with `--resume`. Each time the vnode runs once,
/// its buffer intact, and nothing of the move lingers.
#[test]
fn a_post_copy_migrate_killed_midway_is_taken_up_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].as_str(), lab.vms[1].as_str());
    let (id, topo) = holder_alone(256);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topo.json"), serde_json::to_string(&topo).unwrap()).unwrap();
    for (file, vm) in [("p0.json", h0), ("p1.json", h1)] {
        let mut p = Placement::default();
        p.vm_of.insert(id.clone(), vm.to_string());
        std::fs::write(d.join(file), serde_json::to_string(&p).unwrap()).unwrap();
    }
    let migrate = |args: &[&str], crash: Option<&str>| {
        let mut c = lab.netbalance();
        c.args(["migrate", "-q", "--migration", "post-copy", "--topology"])
            .arg(d.join("topo.json"))
            .arg("--testbed")
            .arg(&lab.testbed_path)
            .arg("--state-dir")
            .arg(d.join("state"))
            .args(args);
        if let Some(phase) = crash {
            c.env("NETBALANCE_TEST_CRASH", phase);
        }
        let t0 = Instant::now();
        let out = c.output().unwrap();
        eprintln!(
            "migrate {args:?} (crash at {crash:?}): {} in {:.1} s; {}",
            out.status,
            t0.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        out.status
    };
    let cg = names::cgroup_name(&id);
    let target = |p: &str| ["--target".to_string(), d.join(p).display().to_string()];
    assert!(migrate(&target("p0.json").each_ref().map(String::as_str), None).success());
    let mut last = checked_after(lab, h0, &cg, 10).last().unwrap().0;
    for (phase, flag, at, other) in [("dumped", "--rollback", h0, h1), ("restored", "--resume", h1, h0)] {
        let killed = migrate(&target("p1.json").each_ref().map(String::as_str), Some(phase));
        assert!(!killed.success(), "{phase}: the crash hook did not fire");
        assert!(migrate(&[flag], None).success(), "{phase}: {flag} failed");
        let l = checked_after(lab, at, &cg, last + 20);
        assert!(l.iter().all(|x| x.1 == "ok"), "{phase} {flag}: {l:?}");
        let steps: Vec<u64> = l.iter().map(|x| x.0).collect();
        assert_eq!(
            steps,
            (1..=steps.len() as u64).map(|i| i * 10).collect::<Vec<_>>(),
            "{phase} {flag}"
        );
        assert_eq!(tasks(lab, at, &cg).len(), 1, "{phase} {flag}: not once on {at}");
        assert!(tasks(lab, other, &cg).is_empty(), "{phase} {flag}: also on {other}");
        for vm in [at, other] {
            let left = lingering(lab, vm, &cg);
            assert!(left.trim().is_empty(), "{phase} {flag}: {vm}: left: {left}");
        }
        last = l.last().unwrap().0;
    }
    assert!(migrate(&["--teardown"], None).success());
    for vm in [h0, h1] {
        let left = lab.ssh_ok(
            vm,
            &[
                "sh",
                "-c",
                &format!("ls -d /var/lib/netbalance/vnodes/{cg}* 2>/dev/null; true"),
            ],
        );
        assert!(left.trim().is_empty(), "{vm}: left behind: {left}");
    }
}
