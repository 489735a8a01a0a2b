//! Post-copy (CRIU lazy pages) between local VMs: a vnode holding ~100 MB
//! of random data moves stop-and-copy, then post-copy; after each move it
//! runs once, at its destination, and the checksum it computes over its
//! buffer is the one it computed before. Prints both moves' pause.

mod testbed_support;

use netbalance::model::MigrationMode;
use netbalance::testbed::{deploy, names};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testbed_support::*;

/// ~100 MB: 75 MiB of random bytes, base64 (4/3).
const RANDOM_BYTES: u64 = 75 * 1024 * 1024;

/// The holder: keeps its buffer in a shell variable, says `ready`, then for
/// every line N written to its FIFO `hold` writes the buffer's checksum to
/// `sum.N` (a pipeline: the subshell reads every page of the buffer).
fn holder() -> String {
    format!(
        "rm -f hold sum.*; mkfifo hold && exec 3<>hold && x=$(head -c {RANDOM_BYTES} /dev/urandom | base64 -w0) \
         && echo ready >ready && while read -r n <&3; do printf %s \"$x\" | cksum >sum.tmp && mv sum.tmp sum.$n; done"
    )
}

fn wait_file(p: &Path, timeout: Duration) -> String {
    let t0 = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(t0.elapsed() < timeout, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ask the holder for checksum `n` and wait for it.
fn checksum(dir: &Path, n: u32) -> String {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(dir.join("hold")).unwrap();
    writeln!(f, "{n}").unwrap();
    drop(f);
    wait_file(&dir.join(format!("sum.{n}")), Duration::from_secs(60))
}

/// The tasks of the vnode's group on this machine.
fn tasks(cg: &str) -> Vec<u32> {
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/{cg}/cgroup.procs"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/{cg}/cgroup.procs")))
        .unwrap_or_default();
    procs.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn post_copy_move_keeps_100_mb_intact_with_a_short_pause() {
    if !require(&["ip", "nsenter", "unshare", "criu", "nft", "base64", "cksum"]) {
        return;
    }
    let check = sh(&["criu", "check", "--feature", "uffd-noncoop"]);
    if !String::from_utf8_lossy(&check.stdout).contains("is supported") {
        eprintln!("skipped: criu check --feature uffd-noncoop: not supported here");
        return;
    }
    let LocalPair {
        a,
        topology,
        mut testbed,
        placement,
        layout,
        state: _state,
        mut fleet,
        ..
    } = local_pair(&holder(), 10.0);
    let report = deploy(&mut fleet, &layout, &placement);
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    report.unwrap();
    let cg = names::cgroup_name(&a);
    let dir: PathBuf = d.fleet.paths.state_root.join(&cg);
    wait_file(&dir.join("ready"), Duration::from_secs(60));
    let sum0 = checksum(&dir, 0);

    let mut pauses = Vec::new();
    for (n, (mode, to)) in [(MigrationMode::StopCopy, "h0-v2"), (MigrationMode::PostCopy, "h0-v0")]
        .into_iter()
        .enumerate()
    {
        testbed.migration = Some(mode);
        let times = move_vnode(&mut d, &topology, &testbed, &a, to).unwrap();
        eprintln!(
            "{mode}: pause {:.0} ms (snapshot {:.0}, restore {:.0}, resume {:.0}), pages after resume {:.0} ms, images {} MB",
            times.pause_s * 1e3,
            times.snapshot_s * 1e3,
            times.restore_s * 1e3,
            times.resume_s * 1e3,
            times.pages_s * 1e3,
            times.image_bytes / 1_000_000
        );
        assert_eq!(d.placement.vm_of[&a], to);
        assert!(
            times.pause_s > 0.0 && times.pause_s < 1.0,
            "{mode}: pause {} s",
            times.pause_s
        );
        // Memory intact: the buffer's checksum, computed again at the destination.
        assert_eq!(checksum(&dir, n as u32 + 1), sum0, "{mode}: the buffer changed");
        // It runs once: one task (the holder) in its group, in the destination's namespace.
        std::thread::sleep(Duration::from_millis(100));
        let now = tasks(&cg);
        assert_eq!(now.len(), 1, "{mode}: tasks {now:?}");
        assert_eq!(
            ns_id(&format!("/proc/{}/ns/net", now[0])),
            ns_id(&format!("/run/netns/{}", names::netns_name(&a, to)))
        );
        assert_eq!(vnode_pid(&d.fleet.paths.state_root, &a), now[0]);
        // Every page arrived and the images are gone (post-copy: only then).
        assert!(!dir.join("images").exists(), "{mode}: images left");
        if mode == MigrationMode::PostCopy {
            assert!(times.pages_s > 0.0, "post-copy waited for no pages");
            // Far less than the whole ~100 MB was dumped before the pause ended.
            assert!(
                times.image_bytes < 20_000_000,
                "post-copy dumped {} bytes",
                times.image_bytes
            );
        } else {
            assert!(
                times.image_bytes > 90_000_000,
                "stop-copy dumped {} bytes",
                times.image_bytes
            );
        }
        pauses.push((mode, times.pause_s));
    }
    eprintln!(
        "pause for ~100 MB: stop-copy {:.0} ms, post-copy {:.0} ms",
        pauses[0].1 * 1e3,
        pauses[1].1 * 1e3
    );
    // The point of post-copy: the pause does not carry the memory.
    assert!(pauses[1].1 < pauses[0].1, "post-copy paused longer: {pauses:?}");
}

/// Pre-copy needs the kernel's soft-dirty tracking, which this machine's
/// kernel lacks (the lab's Debian guests have it: tests/real_vms/precopy.rs
/// moves a vnode pre-copy there). Here the move is refused before anything
/// pauses: the vnode runs on, once, where it was, and no round is left.
#[test]
fn pre_copy_without_dirty_tracking_is_refused_before_the_pause() {
    if !require(&["ip", "nsenter", "unshare", "criu", "nft"]) {
        return;
    }
    let check = sh(&["criu", "check", "--feature", "mem_dirty_track"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    if said.contains("is supported") {
        eprintln!("skipped: this kernel tracks dirty memory (pre-copy is tested on the lab's VMs)");
        return;
    }
    let LocalPair {
        a,
        topology,
        mut testbed,
        placement,
        layout,
        state: _state,
        mut fleet,
        ..
    } = local_pair("exec sleep 1000", 10.0);
    let report = deploy(&mut fleet, &layout, &placement);
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    report.unwrap();
    let cg = names::cgroup_name(&a);
    let pid = vnode_pid(&d.fleet.paths.state_root, &a);
    testbed.migration = Some(MigrationMode::PreCopy);
    let err = move_vnode(&mut d, &topology, &testbed, &a, "h0-v1").unwrap_err();
    let msg = format!("{err:#}");
    eprintln!("pre-copy here: {msg}");
    assert!(msg.contains("mem_dirty_track"), "{msg}");
    assert_eq!(d.placement.vm_of[&a], "h0-v0");
    assert_eq!(tasks(&cg), [pid], "the vnode runs on, once, as before");
    assert_eq!(
        ns_id(&format!("/proc/{pid}/ns/net")),
        ns_id(&format!("/run/netns/{}", names::netns_name(&a, "h0-v0")))
    );
    let rounds = d.fleet.paths.state_root.join(format!("{cg}.pre"));
    assert!(!rounds.exists(), "{} left", rounds.display());
}
