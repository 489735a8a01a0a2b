//! Pre-copy (model §3.1) between two stock Debian 12 VMs, whose kernel
//! tracks dirty memory (soft-dirty; this machine's does not): a vnode
//! holding 64 MB that keeps writing ~0.6 MB/s moves pre-copy, then back
//! stop-and-copy; both pauses are printed. After each move it runs once,
//! where the placement says, and its own check of the whole buffer (every
//! slot holds what it last wrote there) still passes.

use super::lab::{self, Lab};
use netbalance::migrate::move_one;
use netbalance::model::{MigrationMode, Placement, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, MigrationTimes, Paths, SshArgs};
use std::time::{Duration, Instant};

/// 1024 slots of 64 KiB; every 0.1 s the next slot is overwritten with a
/// new byte value; every 10 steps the whole buffer is compared with what
/// was written, and a line `n ok|BAD` printed.
const HOLDER: &str = r#"import time
S = 65536
K = 1024
buf = bytearray(S * K)
last = [0] * K
n = 0
while True:
    n += 1
    k = n % K
    v = n % 251 + 1
    buf[k * S:(k + 1) * S] = bytes([v]) * S
    last[k] = v
    if n % 10 == 0:
        ok = all(buf[j * S:(j + 1) * S] == bytes([last[j]]) * S for j in range(K))
        print(n, "ok" if ok else "BAD", flush=True)
    time.sleep(0.1)
"#;

/// The holder's lines (n, verdict) so far, from its out.log on `vm`.
fn lines(lab: &Lab, vm: &str, cg: &str) -> Vec<(u64, String)> {
    let out = lab.ssh(vm, &["cat", &format!("/var/lib/netbalance/vnodes/{cg}/out.log")]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(' ')?;
            Some((n.parse().ok()?, v.to_string()))
        })
        .collect()
}

/// Wait until the holder on `vm` has checked its buffer after step `beyond`.
fn checked_after(lab: &Lab, vm: &str, cg: &str, beyond: u64) -> Vec<(u64, String)> {
    let t0 = Instant::now();
    loop {
        let l = lines(lab, vm, cg);
        if l.last().is_some_and(|x| x.0 > beyond) {
            return l;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "{vm}: no check after step {beyond}: {:?}",
            l.last()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn report(what: &str, t: &MigrationTimes) {
    eprintln!(
        "{what}: pause {:.0} ms (snapshot {:.0} ms, transfer {:.0} ms, restore {:.0} ms), image {:.1} MB; \
         ahead of it {} round(s) {:?} MB in {:.1} s; move {:.1} s",
        t.pause_s * 1e3,
        (t.snapshot_s + t.reap_s) * 1e3,
        t.transfer_s * 1e3,
        t.restore_s * 1e3,
        t.image_bytes as f64 / 1e6,
        t.pre_copy_rounds.len(),
        t.pre_copy_rounds
            .iter()
            .map(|b| (*b as f64 / 1e5).round() / 10.0)
            .collect::<Vec<_>>(),
        t.pre_copy_s,
        t.total_s
    );
}

#[test]
fn pre_copy_moves_a_vnode_that_keeps_writing_between_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    // The hosts test compares the VMs' processes before and after.
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].as_str(), lab.vms[1].as_str());
    let id = format!("{}m", crate::testbed_support::tag());
    let mut v = Vnode::new(&id);
    assert!(!HOLDER.contains('\''));
    v.run = Some(format!("exec python3 -u -c '{HOLDER}'"));
    v.memory_mb = 64.0;
    let topo = Topology {
        vnodes: vec![v],
        links: vec![],
    };
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
    let before = checked_after(lab, h0, &cg, 20);
    assert!(before.iter().all(|l| l.1 == "ok"), "{before:?}");

    testbed.migration = Some(MigrationMode::PreCopy);
    let pre = move_one(down.0, &topo, &testbed, &mut down.2, &id, h1, &journal).unwrap();
    report("pre-copy h0 -> h1", &pre);
    assert_eq!(down.2.vm_of[&id], h1);
    assert!(!pre.pre_copy_rounds.is_empty(), "no pre-copy round: {pre:?}");
    assert!(
        pre.pre_copy_rounds[0] > 60_000_000,
        "the first round copies the whole buffer: {pre:?}"
    );
    assert!(
        pre.image_bytes < pre.pre_copy_rounds[0] / 4,
        "the pause dumps the last dirty set, not the memory: {pre:?}"
    );
    let last = before.last().unwrap().0;
    let after = checked_after(lab, h1, &cg, last + 30);
    assert!(after.iter().all(|l| l.1 == "ok"), "{after:?}");
    let steps: Vec<u64> = after.iter().map(|l| l.0).collect();
    assert_eq!(
        steps,
        (1..=steps.len() as u64).map(|i| i * 10).collect::<Vec<_>>(),
        "checks missing or repeated"
    );
    let procs = lab.ssh_ok(
        h0,
        &[
            "sh",
            "-c",
            &format!("cat /sys/fs/cgroup/system.slice/netbalance-vnodes.service/{cg}/cgroup.procs 2>/dev/null; true"),
        ],
    );
    assert!(procs.trim().is_empty(), "still on {h0}: {procs}");

    testbed.migration = Some(MigrationMode::StopCopy);
    let stop = move_one(down.0, &topo, &testbed, &mut down.2, &id, h0, &journal).unwrap();
    report("stop-copy h1 -> h0", &stop);
    assert!(stop.pre_copy_rounds.is_empty());
    let last = after.last().unwrap().0;
    let back = checked_after(lab, h0, &cg, last + 20);
    assert!(back.iter().all(|l| l.1 == "ok"), "{back:?}");
    for vm in [h0, h1] {
        let pre_dir = lab.ssh_ok(
            vm,
            &[
                "sh",
                "-c",
                &format!("ls -d /var/lib/netbalance/vnodes/{cg}.pre 2>/dev/null; true"),
            ],
        );
        assert!(pre_dir.trim().is_empty(), "{vm}: pre-copy rounds left: {pre_dir}");
    }
    let final_placement = down.2.clone();
    teardown(down.0, &layout, &final_placement).unwrap();
}
