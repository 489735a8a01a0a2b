//! Pre-copy (model §3.1) between two stock Debian 12 VMs, whose kernel
//! tracks dirty memory (soft-dirty; this machine's does not): a vnode
//! holding 64 MB that keeps writing ~0.6 MB/s moves pre-copy, then back
//! stop-and-copy; both pauses are printed. After each move it runs once,
//! where the placement says, and its own check of the whole buffer (every
//! slot holds what it last wrote there) still passes. `monitor --dirty`
//! measures its dirty rate before the move, and its counting never
//! clears the bits the rounds read (it finds the vnode busy meanwhile).

use super::lab::{self, Lab};
use netbalance::migrate::move_one;
use netbalance::model::{MigrationMode, Placement, Testbed, Topology, Vnode};
use netbalance::state::StateDir;
use netbalance::testbed::dirty::Count;
use netbalance::testbed::monitor::{sample_with, snapshot, DirtyProbe};
use netbalance::testbed::provision::{artifact, remote_path};
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout, MigrationTimes, Paths, SshArgs};
use std::time::{Duration, Instant};

/// K slots of 64 KiB (the program's first line sets K); every 0.1 s the
/// next slot is overwritten with a new byte value; every 10 steps the whole
/// buffer is compared with what was written, and a line `n ok|BAD` printed.
const HOLDER: &str = r#"import time
S = 65536
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

/// The holder with `slots` slots (64 KiB each), as a vnode's `run`.
fn holder(slots: usize) -> String {
    assert!(!HOLDER.contains('\''));
    format!("exec python3 -u -c 'K = {slots}\n{HOLDER}'")
}

/// A topology of one holder vnode with `slots` slots: its id and the topology.
pub(crate) fn holder_alone(slots: usize) -> (String, Topology) {
    let id = format!("{}h", crate::testbed_support::tag());
    let mut v = Vnode::new(&id);
    v.run = Some(holder(slots));
    v.memory_mb = (slots as f64 / 16.0).max(1.0);
    let topo = Topology {
        vnodes: vec![v],
        links: vec![],
    };
    (id, topo)
}

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
pub(crate) fn checked_after(lab: &Lab, vm: &str, cg: &str, beyond: u64) -> Vec<(u64, String)> {
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

pub(crate) fn report(what: &str, t: &MigrationTimes) {
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
    let mut h = Deployed::holder(lab, 1024);
    let cg = h.cg.clone();
    let before = checked_after(lab, h0, &cg, 20);
    assert!(before.iter().all(|l| l.1 == "ok"), "{before:?}");

    // `monitor --dirty` sees the holder's writes (64 KiB every 0.1 s at
    // most, and what the interpreter writes besides).
    let mut probe = DirtyProbe::default();
    let s0 = sample_with(&mut h.fleet, &h.layout, &h.placement, Some(&mut probe)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let s1 = sample_with(&mut h.fleet, &h.layout, &h.placement, Some(&mut probe)).unwrap();
    let seen = snapshot(&s0, &s1, &h.layout, 3.0, 1.0).dirty_mb_s;
    eprintln!("monitor --dirty before the move: {seen:?} MB/s");
    assert!(seen.get(&h.id).is_some_and(|d| *d > 0.1 && *d < 20.0), "{seen:?}");

    // Counting (and clearing) on h0 all through the move: while the rounds
    // run the vnode is "busy", so no clear hides a page from a round (the
    // buffer checks after the move say no page was lost).
    let bin = remote_path(
        &artifact(std::path::Path::new(env!("CARGO_BIN_EXE_netbalance")))
            .unwrap()
            .hash,
    );
    let procs = format!("/sys/fs/cgroup/system.slice/netbalance-vnodes.service/{cg}/cgroup.procs");
    let pre_dir = format!("/var/lib/netbalance/vnodes/{cg}.pre");
    let moving = std::sync::atomic::AtomicBool::new(true);
    let (pre, counts) = std::thread::scope(|s| {
        let counter = s.spawn(|| {
            let mut counts = Vec::new();
            while moving.load(std::sync::atomic::Ordering::SeqCst) {
                let argv = [
                    bin.as_str(),
                    "dirty",
                    "--lock-dir",
                    "/var/lib/netbalance/vnodes",
                    &procs,
                    &pre_dir,
                ];
                counts.push(lab.ssh_ok(h0, &argv).trim().to_string());
            }
            counts
        });
        let pre = h.move_to(MigrationMode::PreCopy, h1);
        moving.store(false, std::sync::atomic::Ordering::SeqCst);
        (pre, counter.join().unwrap())
    });
    eprintln!("counts on {h0} during the move: {counts:?}");
    assert!(counts.iter().all(|c| Count::parse(c).is_some()), "{counts:?}");
    assert!(
        counts.iter().any(|c| c == "busy"),
        "never busy while the rounds ran: {counts:?}"
    );
    report("pre-copy h0 -> h1", &pre);
    eprintln!("  {}", pre.summary());
    // The holder rewrites a 64 KiB slot at most every 0.1 s (0.625 MB/s,
    // less under TCG), besides what the interpreter touches itself.
    let d = pre.dirty_mb_s().expect("a dirty rate from two or more rounds");
    assert!(d > 0.0 && d < 5.0, "dirty rate {d} MB/s: {pre:?}");
    // criu and the copy of a 64 MB first round keep a 1-vCPU guest busy for
    // a good part of the rounds; never more than all of it.
    let f = pre.round_fraction().expect("the rounds' CPU measured on both VMs");
    assert!(f > 0.02 && f <= 1.0, "round fraction {f}: {pre:?}");
    assert_eq!(h.placement.vm_of[&h.id], h1);
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
    assert!(tasks(lab, h0, &cg).is_empty(), "still on {h0}");

    let stop = h.move_to(MigrationMode::StopCopy, h0);
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
    h.teardown();
}

/// A holder (`holder_alone`) deployed on the lab's first VM by a fleet of
/// this process (the binary provisioned); moved with [`Deployed::move_to`],
/// torn down by [`Deployed::teardown`], or when dropped (a failed test).
pub(crate) struct Deployed {
    pub id: String,
    pub cg: String,
    pub placement: Placement,
    topo: Topology,
    testbed: Testbed,
    fleet: Fleet,
    layout: Layout,
    journal: StateDir,
    _state: tempfile::TempDir,
    down: bool,
}

impl Deployed {
    pub(crate) fn holder(lab: &Lab, slots: usize) -> Deployed {
        let (id, topo) = holder_alone(slots);
        let testbed = lab.testbed();
        let paths = Paths {
            keeper: Some(env!("CARGO_BIN_EXE_netbalance").to_string()),
            ..Paths::default()
        };
        let mut fleet = Fleet::new(&testbed, SshArgs::default().options(&testbed), paths);
        let layout = Layout::new(&topo).unwrap();
        let mut placement = Placement::default();
        placement.vm_of.insert(id.clone(), lab.vms[0].clone());
        let state = tempfile::tempdir().unwrap();
        let journal = StateDir::open(state.path().join("journal")).unwrap();
        deploy(&mut fleet, &layout, &placement).unwrap();
        Deployed {
            cg: names::cgroup_name(&id),
            id,
            placement,
            topo,
            testbed,
            fleet,
            layout,
            journal,
            _state: state,
            down: false,
        }
    }

    /// Move the holder to `vm` in `mode` (`move_one`, a journalled run).
    pub(crate) fn move_to(&mut self, mode: MigrationMode, vm: &str) -> MigrationTimes {
        self.testbed.migration = Some(mode);
        move_one(
            &mut self.fleet,
            &self.topo,
            &self.testbed,
            &mut self.placement,
            &self.id,
            vm,
            &self.journal,
        )
        .unwrap()
    }

    pub(crate) fn teardown(mut self) {
        self.down = true;
        teardown(&mut self.fleet, &self.layout, &self.placement).unwrap();
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        if !self.down {
            let _ = teardown(&mut self.fleet, &self.layout, &self.placement);
        }
    }
}

/// The tasks of the vnode's cgroup on `vm` (in the lab's delegated unit).
pub(crate) fn tasks(lab: &Lab, vm: &str, cg: &str) -> Vec<String> {
    let procs = lab.ssh_ok(
        vm,
        &[
            "sh",
            "-c",
            &format!("cat /sys/fs/cgroup/system.slice/netbalance-vnodes.service/{cg}/cgroup.procs 2>/dev/null; true"),
        ],
    );
    procs.split_whitespace().map(str::to_string).collect()
}

/// `netbalance migrate` killed (the driver's crash hook) before the pause
/// of a pre-copy move, after the first round was dumped and after it was
/// sent, is taken up with `--rollback` and with `--resume`: the vnode runs
/// once, where the state dir says, its buffer intact; teardown leaves no
/// round behind.
#[test]
fn a_pre_copy_migrate_killed_before_the_pause_is_taken_up_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    killed_and_taken_up(
        lab,
        "pre-copy",
        64,
        &[("pre-dumped", "--rollback", 0), ("pre-copied", "--resume", 1)],
        &|_, _| {},
    );
}

/// `netbalance migrate -q --migration MODE` of a holder of `slots` slots
/// (deployed on the lab's first VM), for each of `cases` (phase, flag, the
/// index of the VM the take-up leaves it on): sent towards the other VM,
/// killed by the driver's crash hook at that phase, then taken up with the
/// flag. After each take-up the holder runs once, there, its buffer
/// intact, each check once; `check(vm, cgroup)` looks at both VMs for
/// what the mode may leave. Teardown leaves nothing of the vnode.
pub(crate) fn killed_and_taken_up(
    lab: &Lab,
    mode: &str,
    slots: usize,
    cases: &[(&str, &str, usize)],
    check: &dyn Fn(&str, &str),
) {
    let (id, topo) = holder_alone(slots);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topo.json"), serde_json::to_string(&topo).unwrap()).unwrap();
    for (i, vm) in lab.vms.iter().take(2).enumerate() {
        let mut p = Placement::default();
        p.vm_of.insert(id.clone(), vm.to_string());
        std::fs::write(d.join(format!("p{i}.json")), serde_json::to_string(&p).unwrap()).unwrap();
    }
    let migrate = |args: &[&str], crash: Option<&str>| {
        let mut c = lab.netbalance();
        c.args(["migrate", "-q", "--migration", mode, "--topology"])
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
    let mut last = checked_after(lab, &lab.vms[0], &cg, 10).last().unwrap().0;
    for &(phase, flag, at) in cases {
        let (at, other) = (lab.vms[at].as_str(), lab.vms[1 - at].as_str());
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
            check(vm, &cg);
        }
        last = l.last().unwrap().0;
    }
    assert!(migrate(&["--teardown"], None).success());
    for vm in lab.vms.iter().take(2) {
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
