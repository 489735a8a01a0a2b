//! Inputs that do what they say (issue 17 §2–3): a placement's recorded
//! paths resolve beside it; export to MaxiNet/Distrinet mappings.

use assert_cmd::Command;
use std::path::Path;

fn netbalance(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("netbalance").unwrap();
    c.current_dir(dir).env_remove("NETBALANCE_TESTBED");
    c
}

/// `sub/` holds testbed.json, grid.json and p.json (made in `sub/`).
fn placement_in_subdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let run = |args: &[&str], out: &str| {
        let o = netbalance(&sub).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(sub.join(out), o.stdout).unwrap();
    };
    run(&["testbed", "--hosts", "2", "--cpus", "2"], "testbed.json");
    run(&["topology", "grid", "--width", "4", "--height", "4"], "grid.json");
    run(
        &["place", "--topology", "grid.json", "--testbed", "testbed.json"],
        "p.json",
    );
    dir
}

#[test]
fn a_placements_paths_resolve_beside_it_and_errors_name_the_field() {
    let dir = placement_in_subdir();
    let out = netbalance(dir.path())
        .args(["cost", "--placement", "sub/p.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(dir.path().join("sub/grid.json")).unwrap();
    let out = netbalance(dir.path())
        .args(["cost", "--placement", "sub/p.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        "netbalance: error: from sub/p.json's \"topology\": sub/grid.json: No such file or directory (os error 2)"
    );
}

#[test]
fn export_writes_maxinet_worker_indices_and_distrinet_host_names() {
    let dir = placement_in_subdir();
    let sub = dir.path().join("sub");
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(sub.join("p.json")).unwrap()).unwrap();
    for (tool, value_of) in [
        (
            "maxinet",
            (|vm: &str| serde_json::json!(vm[1..2].parse::<u64>().unwrap())) as fn(&str) -> serde_json::Value,
        ),
        ("distrinet", |vm: &str| serde_json::json!(vm[..2])),
    ] {
        let out = netbalance(&sub)
            .args(["export", tool])
            .pipe_stdin(sub.join("p.json"))
            .unwrap()
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let vm_of = p["vm_of"].as_object().unwrap();
        assert_eq!(map.len(), 16);
        for (vnode, vm) in vm_of {
            assert_eq!(map[vnode], value_of(vm.as_str().unwrap()), "{tool} {vnode}");
        }
    }
}

#[test]
fn testbed_from_an_ssh_template_or_a_hosts_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = netbalance(dir.path())
        .args([
            "testbed",
            "--hosts",
            "2",
            "--cpus",
            "2",
            "--ssh",
            "root@10.0.{h}.{v+10}:22",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tb: netbalance::model::Testbed = serde_json::from_slice(&out.stdout).unwrap();
    let ssh: Vec<_> = tb.vms().map(|(_, vm)| vm.ssh.clone().unwrap()).collect();
    assert_eq!(
        ssh,
        [
            "root@10.0.0.10:22",
            "root@10.0.0.11:22",
            "root@10.0.1.10:22",
            "root@10.0.1.11:22"
        ]
    );

    std::fs::write(
        dir.path().join("vms.txt"),
        "# rack 1\nroot@192.0.2.1\nroot@192.0.2.1:2222\n\nadmin@192.0.2.2\n",
    )
    .unwrap();
    let out = netbalance(dir.path())
        .args(["testbed", "--hosts-file", "vms.txt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tb: netbalance::model::Testbed = serde_json::from_slice(&out.stdout).unwrap();
    let shape: Vec<_> = tb
        .vms()
        .map(|(h, vm)| (h, vm.name.clone(), vm.ssh.clone().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            (0, "h0-v0".to_string(), "root@192.0.2.1".to_string()),
            (0, "h0-v1".into(), "root@192.0.2.1:2222".into()),
            (1, "h1-v0".into(), "admin@192.0.2.2".into())
        ]
    );

    std::fs::write(dir.path().join("bad.txt"), "root@a\nroot@a\n").unwrap();
    let out = netbalance(dir.path())
        .args(["testbed", "--hosts-file", "bad.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "netbalance: error: bad.txt:2: root@a is already listed on line 1"
    );
}

/// `predict < topo.json` (pretty JSON into an NDJSON reader) says what was
/// expected and what was found, in one line.
#[test]
fn pretty_json_fed_to_an_ndjson_reader_is_named() {
    let dir = placement_in_subdir();
    let sub = dir.path().join("sub");
    let out = netbalance(&sub)
        .arg("predict")
        .pipe_stdin(sub.join("grid.json"))
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("expected one load snapshot per line (NDJSON"), "{err}");
    assert!(err.contains("pretty-printed JSON?"), "{err}");
    let out = netbalance(&sub)
        .args(["place", "--topology", "grid.json"])
        .pipe_stdin(sub.join("grid.json"))
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("found a topology (it has \"vnodes\") pretty-printed over"),
        "{err}"
    );
    assert!(err.contains("because it is not a terminal"), "{err}");
}

/// A command that reads stdin because it is a pipe says so once when the
/// pipe stays silent (the `while read` trap), and not at all under -q.
#[test]
fn a_silent_stdin_pipe_is_announced_once() {
    let dir = placement_in_subdir();
    let sub = dir.path().join("sub");
    for (quiet, expected) in [(false, 1), (true, 0)] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("netbalance"));
        cmd.current_dir(&sub).args(["place", "--topology", "grid.json"]);
        if quiet {
            cmd.arg("-q");
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        std::thread::sleep(netbalance::inputs::STDIN_NOTICE_AFTER + std::time::Duration::from_millis(700));
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err.matches("waiting for load snapshots (NDJSON) on stdin").count(),
            expected,
            "{err}"
        );
    }
}

/// Results are rounded to what they mean (6 significant digits); a
/// placement's vm_of and the files it names are kept as they are.
#[test]
fn results_in_json_carry_no_float_noise() {
    let dir = placement_in_subdir();
    let sub = dir.path().join("sub");
    let out = netbalance(&sub)
        .args([
            "cost",
            "--placement",
            "p.json",
            "--target",
            "p.json",
            "--tp",
            "0.3",
            "--to",
            "0.1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut numbers = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Number(n) => out.extend(n.as_f64()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&v, &mut numbers);
    assert!(numbers.len() > 10);
    for x in numbers {
        assert_eq!(x, netbalance::io::round_result(x), "{x} in {text}");
    }
    // fields keep the order of the structs (tau first), not alphabetical
    assert!(text.find("\"current\"").unwrap() < text.find("\"beneficial\"").unwrap());
}

/// `simulate --loads` writes the scenario's load as a stream that
/// `balance --replay` takes as it is.
#[test]
fn simulate_loads_feed_balance_replay() {
    let dir = placement_in_subdir();
    let sub = dir.path().join("sub");
    let out = netbalance(&sub)
        .args([
            "simulate",
            "--loads",
            "--topology",
            "grid.json",
            "--hosts",
            "2",
            "--cpus",
            "2",
            "--epochs",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let t: Vec<f64> = lines.iter().map(|l| l["t"].as_f64().unwrap()).collect();
    assert_eq!(t, [0.0, 120.0, 240.0, 360.0]);
    std::fs::write(sub.join("loads.ndjson"), &out.stdout).unwrap();
    let replay = netbalance(&sub)
        .args([
            "balance",
            "--replay",
            "loads.ndjson",
            "--topology",
            "grid.json",
            "--moves",
            "2000",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let last = String::from_utf8(replay.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["stopped_by"], "end_of_stream");
    assert!(summary["windows"].as_u64().unwrap() >= 36, "{summary}");
}
