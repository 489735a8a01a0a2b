//! Issue 13 items 1–4 on stock Debian 12 VMs (systemd, cgroup v2 only,
//! kernel 6.1): a vnode's whole life through the CLI, as a user runs it.
//!
//! One test, in order (each `migrate` takes a minute or so under TCG):
//! deploy (the cgroup driver probed and reported; each vnode pid 1 of its
//! own pid namespace, in the delegated systemd unit's subtree); link delay
//! measured (20 ms each way: ping RTT >= 40 ms); monitor samples; a live
//! migration of a TCP client to the other VM with its old pid taken there
//! beforehand (the connection goes on, the counter has no duplicate or
//! missing line, pid 1 inside its namespace, the pause seen by the client
//! reported), and back; teardown leaves nothing: namespaces, interfaces,
//! cgroups, processes and state dirs as before the deploy.

use super::lab::{self, Lab};
use netbalance::model::{Link, Placement, Topology, Vnode};
use netbalance::testbed::names;
use std::path::Path;
use std::time::{Duration, Instant};

/// Echo server: each line back.
const SERVER: &str = r#"import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000))
l.listen(4)
while True:
    c, _ = l.accept()
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
"#;

/// Client: one connection; every 0.2 s sends n, checks the echo, prints
/// "n local-port wall-time monotonic-time".
const CLIENT: &str = r#"import socket, time
while True:
    try:
        s = socket.create_connection(("10.64.0.1", 7000), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
s.settimeout(None)
port = s.getsockname()[1]
n = 0
while True:
    n += 1
    s.sendall(b"%d\n" % n)
    d = b""
    while not d.endswith(b"\n"):
        d += s.recv(100)
    assert int(d) == n, (d, n)
    print(n, port, "%.3f" % time.time(), "%.3f" % time.monotonic(), flush=True)
    time.sleep(0.2)
"#;

fn python(prog: &str) -> String {
    assert!(!prog.contains('\''));
    format!("exec python3 -u -c '{prog}'")
}

/// What a VM holds that a deployment could leave behind (for a before/after comparison).
const LEFTOVERS: &str = r#"echo "netns: $(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ')"
echo "links: $(ip -o link | cut -d: -f2 | sort | tr '\n' ' ')"
echo "cgroups: $(find /sys/fs/cgroup -name 'nb*' -o -name 'netbalance*' | sort | tr '\n' ' ')"
echo "procs: $(ps -eo args | grep -e 'netbalance keeper' -e netbalance-vnode -e unshare -e criu -e python3 | grep -v -e grep -e 'ps -eo' | sort | tr '\n' ';')"
echo "state: $(ls /var/lib/netbalance/vnodes 2>/dev/null | tr '\n' ' ')"
echo "unit: $(systemctl is-active netbalance-vnodes.service)""#;

fn leftovers(lab: &Lab, vm: &str) -> String {
    let out = lab.ssh(vm, &["sh", "-c", LEFTOVERS]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The client's lines so far: (n, port, wall time, monotonic time), from its out.log on `vm`.
fn client_lines(lab: &Lab, vm: &str, cg: &str) -> Vec<(u64, u32, f64, f64)> {
    let log = format!("/var/lib/netbalance/vnodes/{cg}/out.log");
    let out = lab.ssh(vm, &["cat", &log]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
            ))
        })
        .collect()
}

fn wait_lines(lab: &Lab, vm: &str, cg: &str, beyond: u64, timeout: Duration) -> Vec<(u64, u32, f64, f64)> {
    let t0 = Instant::now();
    loop {
        let lines = client_lines(lab, vm, cg);
        if lines.last().is_some_and(|l| l.0 > beyond) {
            return lines;
        }
        assert!(
            t0.elapsed() < timeout,
            "the client on {vm} did not get past {beyond} within {timeout:?}: {lines:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The vnode's pid on `vm` and its pids in each namespace (`NSpid`).
fn nspid(lab: &Lab, vm: &str, cg: &str) -> (u32, Vec<u32>) {
    let pid: u32 = lab
        .ssh_ok(vm, &["cat", &format!("/var/lib/netbalance/vnodes/{cg}/pid")])
        .trim()
        .parse()
        .unwrap();
    let status = lab.ssh_ok(vm, &["cat", &format!("/proc/{pid}/status")]);
    let ns = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| v.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default();
    (pid, ns)
}

fn run_ok(c: &mut std::process::Command, what: &str) -> (String, String) {
    let t0 = Instant::now();
    let out = c.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!("{what}: {:.1} s; stderr: {e}", t0.elapsed().as_secs_f64());
    assert!(out.status.success(), "{what} exited with {}: {e}", out.status);
    (o, e)
}

#[test]
fn a_vnode_lives_migrates_and_leaves_nothing_on_debian_vms() {
    let Some(lab) = lab::shared() else { return };
    let _alone = lab::exclusive();
    let (h0, h1) = (lab.vms[0].as_str(), lab.vms[1].as_str());
    let before = [leftovers(lab, h0), leftovers(lab, h1)];
    let tag = crate::testbed_support::tag();
    let (s, c) = (format!("{tag}s"), format!("{tag}c"));
    let mut vs = Vnode::new(&s);
    vs.run = Some(python(SERVER));
    let mut vc = Vnode::new(&c);
    vc.run = Some(python(CLIENT));
    let mut link = Link::new(&s, &c, 50.0);
    link.delay_ms = 20.0;
    let topo = Topology {
        vnodes: vec![vs, vc],
        links: vec![link],
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topo.json"), serde_json::to_string(&topo).unwrap()).unwrap();
    let placement = |c_vm: &str| {
        let mut p = Placement::default();
        p.vm_of.insert(s.clone(), h1.to_string());
        p.vm_of.insert(c.clone(), c_vm.to_string());
        serde_json::to_string(&p).unwrap()
    };
    std::fs::write(d.join("p0.json"), placement(h0)).unwrap();
    std::fs::write(d.join("p1.json"), placement(h1)).unwrap();
    let migrate = |args: &[&str], what: &str| {
        let mut cmd = lab.netbalance();
        cmd.arg("migrate")
            .arg("--topology")
            .arg(d.join("topo.json"))
            .arg("--testbed")
            .arg(&lab.testbed_path)
            .arg("--state-dir")
            .arg(d.join("state"))
            .args(args);
        run_ok(&mut cmd, what)
    };
    let cg = names::cgroup_name(&c);

    // Deploy: the hierarchy probed and reported, pid 1 of its own pid namespace,
    // in the delegated unit's subtree.
    let (_, err) = migrate(&["--target", d.join("p0.json").to_str().unwrap()], "deploy");
    assert!(
        err.contains("cgroup v2, delegated systemd unit netbalance-vnodes.service"),
        "{err}"
    );
    assert!(!err.contains("not applied"), "the delay was not applied: {err}");
    let first = wait_lines(lab, h0, &cg, 3, Duration::from_secs(120));
    let (pid, ns) = nspid(lab, h0, &cg);
    assert_eq!(ns, [pid, 1], "the client is pid 1 of its pid namespace");
    let cgroup = lab.ssh_ok(h0, &["cat", &format!("/proc/{pid}/cgroup")]);
    assert_eq!(
        cgroup.trim(),
        format!("0::/system.slice/netbalance-vnodes.service/{cg}")
    );

    // Link delay: 20 ms each way.
    let netns = names::netns_name(&c, h0);
    let ping = lab.ssh_ok(
        h0,
        &[
            "ip",
            "netns",
            "exec",
            &netns,
            "ping",
            "-c",
            "5",
            "-i",
            "0.3",
            "10.64.0.1",
        ],
    );
    let rtt = ping
        .lines()
        .find(|l| l.contains("rtt"))
        .unwrap_or_else(|| panic!("{ping}"));
    let min: f64 = rtt
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("ping over the 20 ms link: {rtt}");
    assert!(min >= 40.0, "RTT {min} ms over a link with 20 ms each way");

    // Monitor: two samples over SSH, the client's CPU and the link's traffic seen.
    let mut mon = lab.netbalance();
    mon.arg("monitor")
        .args(["--count", "2", "--interval", "2"])
        .arg("--placement")
        .arg(d.join("state/placement.json"))
        .arg("--topology")
        .arg(d.join("topo.json"))
        .arg("--testbed")
        .arg(&lab.testbed_path);
    let (samples, _) = run_ok(&mut mon, "monitor");
    let snaps: Vec<serde_json::Value> = samples.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(snaps.len(), 2, "{samples}");
    let last = &snaps[1];
    eprintln!("monitor: {last}");
    assert!(last["cpu"][&c].as_f64().unwrap() > 0.0, "{last}");
    assert!(last["mbps"][0]["rate"].as_f64().unwrap() > 0.0, "{last}");

    // The client's pid on h0 is taken on h1 before the move (a process
    // started there with ns_last_pid = pid - 1).
    let occupy = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do test -d /proc/{pid} && break; echo {} >/proc/sys/kernel/ns_last_pid; sleep 900 </dev/null >/dev/null 2>&1 & done; test -d /proc/{pid} && cat /proc/{pid}/comm",
        pid - 1
    );
    let taken = lab.ssh_ok(h1, &["sh", "-c", &occupy]);
    eprintln!("pid {pid} on {h1} before the move: {}", taken.trim());
    assert!(!taken.trim().is_empty(), "could not take pid {pid} on {h1}");

    // Live migration to h1 and back.
    let n0 = first.last().unwrap().0;
    migrate(
        &["--target", d.join("p1.json").to_str().unwrap()],
        "migrate the client to h1",
    );
    let (pid1, ns1) = nspid(lab, h1, &cg);
    assert_eq!(ns1, [pid1, 1], "pid 1 of its pid namespace on {h1}");
    assert_ne!(pid1, pid, "pid {pid} is taken on {h1}");
    let lines = wait_lines(lab, h1, &cg, n0 + 10, Duration::from_secs(120));
    migrate(
        &["--target", d.join("p0.json").to_str().unwrap()],
        "migrate the client back to h0",
    );
    let back = wait_lines(lab, h0, &cg, lines.last().unwrap().0 + 10, Duration::from_secs(120));
    let _ = lab.ssh(h1, &["sh", "-c", "kill $(pgrep -x -f 'sleep 900') 2>/dev/null; true"]);
    let (pid2, ns2) = nspid(lab, h0, &cg);
    assert_eq!(ns2, [pid2, 1]);
    // Every line once, in order, over the one connection; the pauses seen by the client.
    let ns: Vec<u64> = back.iter().map(|l| l.0).collect();
    assert_eq!(
        ns,
        (1..=ns.len() as u64).collect::<Vec<_>>(),
        "lines missing or repeated"
    );
    let ports: std::collections::BTreeSet<u32> = back.iter().map(|l| l.1).collect();
    assert_eq!(ports.len(), 1, "the client reconnected: ports {ports:?}");
    let mut gaps: Vec<(f64, u64)> = back.windows(2).map(|w| (w[1].2 - w[0].2, w[1].0)).collect();
    gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!(
        "pauses seen by the client (two largest gaps between echoes, normal 0.2 s + RTT): {:.1} s before line {}, {:.1} s before line {}",
        gaps[0].0, gaps[0].1, gaps[1].0, gaps[1].1
    );
    assert!(gaps[1].0 > 0.5, "two moves, two pauses: {gaps:?}");
    // The vnode's own monotonic clock (its time namespace, restored by CRIU
    // with offsets that continue it) never goes back across the two
    // kernels, whatever their uptimes.
    let back_steps: Vec<_> = back.windows(2).filter(|w| w[1].3 < w[0].3).collect();
    assert!(back_steps.is_empty(), "monotonic clock went back: {back_steps:?}");

    // Teardown: nothing left.
    migrate(&["--teardown"], "teardown");
    let after = [leftovers(lab, h0), leftovers(lab, h1)];
    for (vm, (b, a)) in [h0, h1].iter().zip(before.iter().zip(&after)) {
        eprintln!("{vm} before:\n{b}{vm} after:\n{a}");
        assert_eq!(a, b, "{vm}: left behind");
        assert!(!a.contains(&cg), "{vm}: {a}");
    }
    assert!(
        !Path::new(&d.join("state/placement.json")).exists() || {
            let p: Placement =
                serde_json::from_str(&std::fs::read_to_string(d.join("state/placement.json")).unwrap()).unwrap();
            p.vm_of.is_empty()
        }
    );
}
