//! The testbed commands as a user types them, on local VMs: `monitor` on a
//! deployment, and `calibrate`. (`migrate` is tested with src/migrate.)

mod testbed_support;

use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
use netbalance::testbed::{deploy, teardown, Fleet, Layout, Paths, SshOptions};
use std::path::Path;
use std::process::{Command, Output};
use testbed_support::*;

fn nb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

struct Deployed {
    fleet: Fleet,
    layout: Layout,
    placement: Placement,
}
impl Drop for Deployed {
    fn drop(&mut self) {
        if let Err(e) = teardown(&mut self.fleet, &self.layout, &self.placement) {
            eprintln!("teardown: {e}");
        }
    }
}

#[test]
fn cli_monitor_and_calibrate() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    if !nb(d, &["monitor", "--help"]).status.success() || !nb(d, &["calibrate", "--help"]).status.success() {
        let msg = "the monitor and calibrate commands are not registered in src/cli.rs yet";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return;
    }
    let criu = which("criu").unwrap().display().to_string();
    let state = d.join("vnodes");
    let st = state.to_str().unwrap();
    let tag = tag();
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let mut va = Vnode::new(&a);
    va.run = Some("while :; do :; done".into());
    let topo = Topology {
        vnodes: vec![va, Vnode::new(&b)],
        links: vec![Link::new(&a, &b, 20.0)],
    };
    let testbed = Testbed::generate(1, 2, 1000.0);
    std::fs::write(d.join("testbed.json"), serde_json::to_string(&testbed).unwrap()).unwrap();
    std::fs::write(d.join("topo.json"), serde_json::to_string(&topo).unwrap()).unwrap();
    let mut placement = Placement::default();
    placement.vm_of.insert(a.clone(), "h0-v0".into());
    placement.vm_of.insert(b.clone(), "h0-v1".into());
    placement.topology = Some("topo.json".into());
    placement.testbed = Some("testbed.json".into());
    std::fs::write(d.join("cur.json"), serde_json::to_string(&placement).unwrap()).unwrap();
    let layout = Layout::new(&topo).unwrap();
    let paths = Paths {
        state_root: state.clone(),
        ..Paths::default()
    };
    let mut dep = Deployed {
        fleet: Fleet::new(&testbed, SshOptions::new("/dev/null"), paths),
        layout,
        placement: placement.clone(),
    };
    deploy(&mut dep.fleet, &dep.layout, &placement).unwrap();

    // Does this kernel track dirty memory (monitor --dirty, pre-copy)?
    let tracked = Command::new(&criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .unwrap();
    let tracked = String::from_utf8_lossy(&tracked.stdout).contains("is supported");

    // monitor: two snapshots, then exit; rates per virtual second scale with --dilation.
    let monitor = |extra: &[&str]| {
        let common = [
            "--placement",
            "cur.json",
            "--count",
            "2",
            "--interval",
            "0.3",
            "--state-root",
            st,
        ];
        nb(d, &[&["monitor"], extra, &common[..]].concat())
    };
    let out = ok(&monitor(&[]));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1]["t"].as_f64().unwrap() > lines[0]["t"].as_f64().unwrap());
    assert!(lines[0]["cpu"][&a].as_f64().unwrap() > 0.01, "{out}");
    assert_eq!(lines[0]["cpu"][&b].as_f64().unwrap(), 0.0, "{out}");
    assert_eq!(lines[0]["mbps"][0]["a"], a.as_str());

    // monitor --dirty: where the kernel does not track soft-dirty pages (this
    // machine's), it says so once and the snapshots carry no dirty rates.
    let m = monitor(&["--dirty"]);
    let (out, err) = (ok(&m), String::from_utf8_lossy(&m.stderr).to_string());
    assert_eq!(out.lines().count(), 2, "{out}");
    if tracked {
        assert!(out.lines().nth(1).unwrap().contains("dirty_mb_s"), "{out}");
    } else {
        assert!(!out.contains("dirty_mb_s"), "{out}");
        assert_eq!(
            err.matches("no soft-dirty tracking").count(),
            1,
            "once per machine: {err}"
        );
    }
    let e = nb(
        d,
        &[
            "monitor",
            "--placement",
            "cur.json",
            "--interval",
            "0",
            "--state-root",
            st,
        ],
    );
    assert_eq!(e.status.code(), Some(2));
    drop(dep);

    // calibrate prints a costs profile.
    let costs = ok(&nb(
        d,
        &[
            "calibrate",
            "--sizes-mb",
            "2,8",
            "--repeats",
            "1",
            "--state-root",
            st,
            "--criu",
            &criu,
        ],
    ));
    let c: serde_json::Value = serde_json::from_str(&costs).unwrap();
    assert!(
        c["restore_ms_per_mb"].as_f64().unwrap() >= 0.0 && c["source"].as_str().unwrap().contains("calibrate"),
        "{costs}"
    );

    // calibrate --migration pre-copy on a kernel without dirty tracking is
    // refused before any probe moves (the lab's test measures it where it runs).
    if tracked {
        eprintln!("this kernel tracks dirty memory: the refusal is not checked here");
        return;
    }
    let journal = d.join(".netbalance").join("calibrate").join("journal.ndjson");
    let before = std::fs::read(&journal).expect("the calibrate run above journalled its probes");
    let t = std::time::Instant::now();
    let e = nb(
        d,
        &[
            "calibrate",
            "--migration",
            "pre-copy",
            "--state-root",
            st,
            "--criu",
            &criu,
        ],
    );
    let err = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mem_dirty_track") && err.contains("--migration stop-copy"),
        "{err}"
    );
    assert!(t.elapsed().as_secs_f64() < 10.0, "refused only after {:?}", t.elapsed());
    assert_eq!(
        std::fs::read(&journal).unwrap_or_default(),
        before,
        "a probe was journalled"
    );
}
