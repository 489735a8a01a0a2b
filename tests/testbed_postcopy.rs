//! Post-copy (CRIU lazy pages) between local VMs: a vnode holding 100 MiB
//! of random data that keeps rewriting ~1 MB/s of it and talks over one
//! TCP connection to an echo server on another vnode moves stop-and-copy,
//! then post-copy. After each move it runs once, at its destination, its
//! own check of the whole buffer (a CRC per slot, kept since it wrote the
//! slot) still passes, and the connection is the same one, every echo
//! matching. Prints both moves' pause.

mod testbed_support;

use netbalance::model::MigrationMode;
use netbalance::testbed::{deploy, names, Layout};
use std::path::Path;
use std::time::{Duration, Instant};
use testbed_support::*;

/// The holder (`python3 HOLDER ADDR PORT`): 1000 slots of 100 KiB of
/// random bytes and each slot's CRC-32; every 0.1 s one slot is rewritten
/// with new random bytes (~1 MB/s) and a numbered line goes over the TCP
/// connection and must come back; every 20 steps the whole buffer is
/// checked against the CRCs and `N ok` (or `N BAD`) printed. A broken or
/// wrong echo prints `N BROKEN …` / `N MISMATCH …` and stops.
fn holder() -> String {
    format!("{HOLDER_BUFFER}{}{HOLDER_LOOP}", py_connect(500))
}

const HOLDER_BUFFER: &str = r#"
import os, socket, sys, time, zlib
S, K = 100 * 1024, 1000
buf = bytearray(os.urandom(S * K))
mv = memoryview(buf)
sums = [zlib.crc32(mv[k * S:(k + 1) * S]) for k in range(K)]
"#;

const HOLDER_LOOP: &str = r#"n = 0
while True:
    n += 1
    k = n % K
    mv[k * S:(k + 1) * S] = os.urandom(S)
    sums[k] = zlib.crc32(mv[k * S:(k + 1) * S])
    try:
        f.write(b"%d\n" % n); f.flush()
        echo = f.readline()
    except OSError as e:
        print(n, "BROKEN", e, flush=True); break
    if echo != b"%d\n" % n:
        print(n, "MISMATCH", echo, flush=True); break
    if n % 20 == 0:
        ok = all(zlib.crc32(mv[j * S:(j + 1) * S]) == sums[j] for j in range(K))
        print(n, "ok" if ok else "BAD", flush=True)
    time.sleep(0.1)
"#;

/// The holder's lines so far (step, verdict), from its out.log.
fn lines(dir: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(dir.join("out.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(' ')?;
            Some((n.parse().ok()?, v.to_string()))
        })
        .collect()
}

/// Wait until the holder has checked its buffer after step `beyond`; every
/// line so far must be a passed check, each step's once.
fn checked_after(dir: &Path, beyond: u64) -> u64 {
    let t0 = Instant::now();
    loop {
        let l = lines(dir);
        assert!(l.iter().all(|x| x.1 == "ok"), "the holder says {l:?}");
        assert!(
            l.windows(2).all(|w| w[1].0 == w[0].0 + 20),
            "checks not once each: {l:?}"
        );
        if let Some(last) = l.last().filter(|x| x.0 > beyond) {
            return last.0;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no check after step {beyond}: {l:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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
    if !require(&["ip", "nsenter", "unshare", "criu", "nft", "/usr/bin/python3"]) {
        return;
    }
    let check = sh(&["criu", "check", "--feature", "uffd-noncoop"]);
    if !String::from_utf8_lossy(&check.stdout).contains("is supported") {
        eprintln!("skipped: criu check --feature uffd-noncoop: not supported here");
        return;
    }
    let scripts = tempfile::tempdir().unwrap();
    let (holder_py, server_py) = (scripts.path().join("holder.py"), scripts.path().join("server.py"));
    std::fs::write(&holder_py, holder()).unwrap();
    std::fs::write(&server_py, ECHO_SERVER).unwrap();
    // The link's first address (10.64.0.1) is the holder's end, the second the server's.
    let run = |script: &Path| format!("exec /usr/bin/python3 -u {} 10.64.0.2 7000", script.display());
    let LocalPair {
        a,
        mut topology,
        mut testbed,
        placement,
        state: _state,
        mut fleet,
        ..
    } = local_pair(&run(&holder_py), 10.0);
    topology.vnodes[1].run = Some(run(&server_py));
    let layout = Layout::new(&topology).unwrap();
    let report = deploy(&mut fleet, &layout, &placement);
    let mut d = Deployed {
        fleet,
        layout: &layout,
        placement: placement.clone(),
    };
    report.unwrap();
    let cg = names::cgroup_name(&a);
    let dir = d.fleet.paths.state_root.join(&cg);
    let mut step = checked_after(&dir, 0);

    let mut pauses = Vec::new();
    for (mode, to) in [(MigrationMode::StopCopy, "h0-v2"), (MigrationMode::PostCopy, "h0-v0")] {
        testbed.migration = Some(mode);
        let times = move_vnode(&mut d, &topology, &testbed, &a, to).unwrap();
        eprintln!(
            "{mode}: pause {:.0} ms (snapshot {:.0}, restore {:.0}, resume {:.0}), pages after resume {:.0} ms, images {} MB, \
             {} of {} lazy pages on demand",
            times.pause_s * 1e3,
            times.snapshot_s * 1e3,
            times.restore_s * 1e3,
            times.resume_s * 1e3,
            times.pages_s * 1e3,
            times.image_bytes / 1_000_000,
            times.faulted_pages,
            times.lazy_pages
        );
        assert_eq!(d.placement.vm_of[&a], to);
        assert!(
            times.pause_s > 0.0 && times.pause_s < 1.0,
            "{mode}: pause {} s",
            times.pause_s
        );
        // Memory intact, the connection alive: checks pass after the move
        // (the holder checks every slot; it stops on a broken echo).
        step = checked_after(&dir, step + 20);
        // It runs once: one task (the holder) in its group, in the destination's namespace.
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
            // ~100 MB is ~25,600 pages; the holder rewrites a slot every
            // 0.1 s and reads its whole buffer every 2 s, so some pages
            // are pulled on demand.
            assert!(times.lazy_pages > 20_000, "{times:?}");
            let f = times.fault_fraction().unwrap();
            assert!(f > 0.0 && f < 1.0, "fault fraction {f}: {times:?}");
            // Far less than the whole ~100 MB was dumped before the pause ended.
            assert!(
                times.image_bytes < 20_000_000,
                "post-copy dumped {} bytes",
                times.image_bytes
            );
        } else {
            assert!(
                times.image_bytes > 100_000_000,
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
