//! Two "remote VMs" on this machine: each a network namespace with its own
//! sshd, mount namespace and state directory, joined by a bridge. Deploys
//! over SSH with a VXLAN link between the VMs, then live-migrates a TCP
//! client across (images sent directly from VM to VM over TCP) and back
//! (images copied through the SSH sessions, the fallback); `netbalance
//! migrate` moves it between them stop-and-copy and post-copy.

mod testbed_support;

use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::testbed::transfer::{TransferMode, Via};
use netbalance::testbed::{deploy, names, teardown, Fleet, Layout};
use std::time::{Duration, Instant};
use testbed_support::*;

/// A counting TCP client vnode and its echo server, linked, on a testbed of
/// the two SSH VMs `vms` (one VM each).
struct EchoPair {
    topo: Topology,
    testbed: Testbed,
    client: String,
    server: String,
    /// Where the client writes how many echoes it got.
    progress: std::path::PathBuf,
}

fn echo_pair(tag: &str, dir: &std::path::Path, vms: &SshVms) -> EchoPair {
    let (srv, cli, progress) = (dir.join("server.py"), dir.join("client.py"), dir.join("progress"));
    std::fs::write(&srv, ECHO_SERVER).unwrap();
    std::fs::write(&cli, counting_client()).unwrap();
    let (server, client) = (format!("{tag}srv"), format!("{tag}cli"));
    let mut sv = Vnode::new(&server);
    sv.run = Some(format!("exec /usr/bin/python3 {} 10.64.0.2 7000", srv.display()));
    let mut cv = Vnode::new(&client);
    cv.run = Some(format!(
        "exec /usr/bin/python3 {} 10.64.0.2 7000 {}",
        cli.display(),
        progress.display()
    ));
    let topo = Topology {
        vnodes: vec![cv, sv],
        links: vec![Link::new(&client, &server, 200.0)],
    };
    EchoPair {
        topo,
        testbed: vms.testbed(),
        client,
        server,
        progress,
    }
}

#[test]
fn remote_vms_over_ssh_vxlan_and_migration() {
    if !require(&[SSH_CRIU_TOOLS, &["/usr/bin/python3"]].concat()) {
        return;
    }
    let vms = two_ssh_vms(253, "r");
    let (addrs, root) = (&vms.addrs, &vms.root);
    let tag = vms.tag.clone();
    let tmp = tempfile::tempdir().unwrap();
    let EchoPair {
        topo,
        testbed,
        client: c,
        server: s,
        progress: prog,
    } = echo_pair(&tag, tmp.path(), &vms);
    let mut placement = Placement::default();
    placement.vm_of.insert(c.clone(), "h0-v0".into());
    placement.vm_of.insert(s.clone(), "h1-v0".into());
    let layout = Layout::new(&topo).unwrap();

    let (opts, paths) = (vms.ssh_options(), vms.paths());
    let mut d = Deployed {
        fleet: Fleet::new(&testbed, opts, paths),
        layout: &layout,
        placement: placement.clone(),
    };

    let t = Instant::now();
    let report = deploy(&mut d.fleet, &layout, &placement).unwrap();
    eprintln!("deploy over ssh: {:.3} s, {report:?}", t.elapsed().as_secs_f64());
    assert_eq!((report.veth_links, report.vxlan_links), (0, 1));
    // The link is a VXLAN device inside the client's namespace, seen from VM 1.
    let vm1 = d.fleet.exec("h0-v0").unwrap();
    let link = vm1
        .run(&netbalance::testbed::Cmd::new("ip").args([
            "-n",
            &names::netns_name(&c, "h0-v0"),
            "-d",
            "link",
            "show",
            "eth0",
        ]))
        .unwrap();
    assert!(
        link.contains("vxlan id 1") && link.contains(&format!("remote {}", addrs[1])),
        "{link}"
    );
    // Timing of one command over the session (for the report).
    let t = Instant::now();
    for _ in 0..20 {
        vm1.run(&netbalance::testbed::Cmd::new("true")).unwrap();
    }
    eprintln!(
        "ssh exec round trip: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    );

    let mut pid = report.started[&c];
    wait_client(&prog, 3, Duration::from_secs(15));

    // Monitor over SSH: two commands per VM; the echo traffic shows on the link.
    let t = Instant::now();
    let s0 = netbalance::testbed::monitor::sample(&mut d.fleet, &layout, &placement).unwrap();
    let sample_s = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let s1 = netbalance::testbed::monitor::sample(&mut d.fleet, &layout, &placement).unwrap();
    let snap = netbalance::testbed::monitor::snapshot(&s0, &s1, &layout, 0.3, 1.0);
    eprintln!(
        "monitor over ssh: sample {:.0} ms, {}",
        sample_s * 1e3,
        serde_json::to_string(&snap).unwrap()
    );
    assert!(snap.mbps[0].rate > 0.0, "no traffic seen on the VXLAN link");
    assert!(snap.cpu[&c] > 0.0 && snap.cpu[&s] > 0.0, "{snap:?}");
    // Out over the direct TCP path (the default), back over SSH (the fallback).
    for (to, mode, via) in [
        ("h1-v0", TransferMode::Direct, Via::Direct),
        ("h0-v0", TransferMode::Ssh, Via::Ssh),
    ] {
        d.fleet.transfer = mode;
        let before = client_progress(&prog).0;
        let times = move_vnode(&mut d, &topo, &testbed, &c, to).unwrap();
        assert_eq!(times.transfer_via, via);
        eprintln!(
            "transfer {via:?}: {:.1} MB in {:.1} ms ({:.1} ms/MB)",
            times.image_bytes as f64 / 1048576.0,
            times.transfer_s * 1e3,
            times.transfer_s * 1e3 / (times.image_bytes as f64 / 1048576.0)
        );
        assert_eq!(d.placement.vm_of[&c], to);
        eprintln!("migration timing over ssh: {}", serde_json::to_string(&times).unwrap());
        assert_eq!(times.pid, Some(pid));
        pid = times.restored_pid.expect("restored");
        assert_eq!(nspid(pid), [pid, 1], "pid 1 of its pid namespace");
        assert!(
            times.reap_s < 1.0,
            "waited {:.3} s for the dumped tasks to be reaped",
            times.reap_s
        );
        assert!(
            times.wire_bytes >= times.image_bytes && times.image_bytes > 100_000,
            "{times:?}"
        );
        wait_client(&prog, before + 5, Duration::from_secs(15));
    }
    // Back on VM 1: the link is a tunnel again; the state dir is on VM 1 only.
    let cg = names::cgroup_name(&c);
    assert!(root.path().join("vm0").join(&cg).join("out.log").exists());
    assert!(!root.path().join("vm1").join(&cg).exists(), "VM 2 kept the state dir");

    teardown(&mut d.fleet, &layout, &d.placement).unwrap();
    assert!(!root.path().join("vm0").join(&cg).exists());
}

/// `netbalance migrate` (the engine with the real driver) moves a TCP
/// client vnode from SSH VM 1 to SSH VM 2, next to its server, and back:
/// the driver's transfer step sends the images directly from VM to VM (no
/// fallback to SSH is reported), the pid is kept and the connection goes on.
#[test]
fn migrate_cli_moves_a_vnode_between_ssh_vms_directly() {
    if !require(&[SSH_CRIU_TOOLS, &["/usr/bin/python3"]].concat()) {
        return;
    }
    let vms = two_ssh_vms(250, "e");
    let tag = vms.tag.clone();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let EchoPair {
        topo,
        mut testbed,
        client: c,
        server: s,
        progress: prog,
    } = echo_pair(&tag, d, &vms);
    let kh = vms.sshds[0].dir.path().join("known_hosts");
    testbed.known_hosts = Some(kh.display().to_string());
    let at = |vm: &str| Placement {
        vm_of: [(c.clone(), vm.to_string()), (s.clone(), "h1-v0".to_string())].into(),
        ..Placement::default()
    };
    let (pa, pb) = (at("h0-v0"), at("h1-v0"));
    std::fs::write(d.join("testbed.json"), serde_json::to_vec(&testbed).unwrap()).unwrap();
    std::fs::write(d.join("topo.json"), serde_json::to_vec(&topo).unwrap()).unwrap();
    for (name, p) in [("pa.json", &pa), ("pb.json", &pb)] {
        let p = Placement {
            topology: Some("topo.json".into()),
            ..p.clone()
        };
        std::fs::write(d.join(name), serde_json::to_vec(&p).unwrap()).unwrap();
    }
    // Whatever happens, the vnodes go (under either placement).
    let layout = Layout::new(&topo).unwrap();
    let (opts, paths) = (vms.ssh_options(), vms.paths());
    let _a = Deployed {
        fleet: Fleet::new(&testbed, opts.clone(), paths.clone()),
        layout: &layout,
        placement: pa.clone(),
    };
    let _b = Deployed {
        fleet: Fleet::new(&testbed, opts, paths),
        layout: &layout,
        placement: pb.clone(),
    };
    let key = vms.sshds[0].user_key.display().to_string();
    let state_root = vms.state_root.display().to_string();
    let migrate = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
            .current_dir(d)
            .env_remove("NETBALANCE_TEST_DRIVER")
            .args(["migrate", "-q", "--state-root", &state_root, "--accept-new", "-i", &key])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "migrate {args:?}: {err}");
        assert!(
            !err.contains("not possible"),
            "migrate {args:?} fell back to SSH: {err}"
        );
        serde_json::from_slice::<Placement>(&out.stdout).unwrap()
    };
    assert_eq!(migrate(&["--target", "pa.json"]).vm_of, pa.vm_of);
    wait_client(&prog, 3, Duration::from_secs(15));
    for (file, want, vm) in [("pb.json", &pb, "vm1"), ("pa.json", &pa, "vm0")] {
        let before = client_progress(&prog).0;
        let t0 = Instant::now();
        assert_eq!(migrate(&["--target", file]).vm_of, want.vm_of);
        eprintln!(
            "netbalance migrate --target {file} over SSH VMs: {:.2} s wall",
            t0.elapsed().as_secs_f64()
        );
        let now = vms.root.path().join(vm).join(names::cgroup_name(&c)).join("pid");
        let pid = std::fs::read_to_string(&now).unwrap().trim().parse::<u32>().unwrap();
        assert_eq!(nspid(pid), [pid, 1], "pid 1 of its pid namespace on {vm}");
        wait_client(&prog, before + 5, Duration::from_secs(15));
    }
    // The same moves post-copy: the lazy dump and the lazy-pages daemon run
    // under `netbalance pages` on their VMs, the pages go through the
    // source's relay; `-v` says what each move measured.
    for (file, want, vm) in [("pb.json", &pb, "vm1"), ("pa.json", &pa, "vm0")] {
        let before = client_progress(&prog).0;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
            .current_dir(d)
            .env_remove("NETBALANCE_TEST_DRIVER")
            .args(["migrate", "-v", "--state-root", &state_root, "--accept-new", "-i", &key])
            .args(["--migration", "post-copy", "--target", file])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "post-copy to {file}: {err}");
        let placed: Placement = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(placed.vm_of, want.vm_of);
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("netbalance: moved {c} ")))
            .unwrap_or_else(|| panic!("no line for the move: {err}"));
        eprintln!("{line}");
        assert!(line.contains(" via direct; pages all arrived "), "{line}");
        assert!(line.contains(" on demand (fault fraction "), "{line}");
        let now = vms.root.path().join(vm).join(names::cgroup_name(&c)).join("pid");
        let pid = std::fs::read_to_string(&now).unwrap().trim().parse::<u32>().unwrap();
        assert_eq!(nspid(pid), [pid, 1], "pid 1 of its pid namespace on {vm}");
        wait_client(&prog, before + 5, Duration::from_secs(15));
        let left = sh(&["pgrep", "-af", &format!("pages --status {state_root}")]);
        assert!(left.stdout.is_empty(), "{}", String::from_utf8_lossy(&left.stdout));
    }
    assert!(migrate(&["--teardown"]).vm_of.is_empty());
}
