//! Post-copy (model §3.1, CRIU lazy pages) between two stock Debian 12 VMs
//! over SSH: the lazy dump and the lazy-pages daemon run detached under
//! `netbalance pages` on their VMs, the pages go from the source VM's relay
//! to the destination. A vnode holding 16 MB that keeps writing moves
//! there and back post-copy, then stop-and-copy (its pause printed beside);
//! its own check of the whole buffer passes after each move, it runs once, and no criu, relay or image is left. A `migrate`
//! killed with the page server waiting for its daemon and one killed with
//! the pages in flight are taken up.

use super::lab;
use super::precopy::{checked_after, killed_and_taken_up, report, tasks, Deployed};
use netbalance::model::MigrationMode;

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
    let mut h = Deployed::holder(lab, 256);
    let cg = h.cg.clone();
    let mut last = checked_after(lab, h0, &cg, 20).last().unwrap().0;
    for (mode, from, to) in [
        (MigrationMode::PostCopy, h0, h1),
        (MigrationMode::PostCopy, h1, h0),
        (MigrationMode::StopCopy, h0, h1),
    ] {
        let t = h.move_to(mode, to);
        report(&format!("{} {from} -> {to}", mode.as_str()), &t);
        assert_eq!(h.placement.vm_of[&h.id], to);
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
    h.teardown();
}

/// `netbalance migrate --migration post-copy` killed (the driver's crash
/// hook) once the lazy dump was made (its page server waiting for a
/// daemon), then taken up with `--rollback`; and killed once restored, its
/// pages in flight between the VMs, then taken up with `--resume`. Each
/// time the vnode runs once, its buffer intact, and nothing of the move
/// lingers.
#[test]
fn a_post_copy_migrate_killed_midway_is_taken_up_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    killed_and_taken_up(
        lab,
        "post-copy",
        256,
        &[("dumped", "--rollback", 0), ("restored", "--resume", 1)],
        &|vm, cg| {
            let left = lingering(lab, vm, cg);
            assert!(left.trim().is_empty(), "{vm}: left: {left}");
        },
    );
}
