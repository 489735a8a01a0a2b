//! `netbalance cost` and `testbed` from the command line: outputs decode,
//! inputs are discovered as model §7 says, broken pipes exit 0.

use serde_json::Value;
use std::io::Read;
use std::path::Path;

const TOPO: &str = r#"{"vnodes":[{"id":"a","cpu":0.2},{"id":"b","cpu":0.3},{"id":"c"}],"links":[{"a":"a","b":"b","mbps":100},{"a":"b","b":"c","mbps":10,"rate":5}]}"#;

mod cli_support;
use cli_support::bin;

fn setup(dir: &Path) {
    let out = bin()
        .args(["testbed", "--hosts", "1", "--cpus", "2", "--nic-mbps", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(dir.join("testbed.json"), out.stdout).unwrap();
    std::fs::write(dir.join("topo.json"), TOPO).unwrap();
    std::fs::write(
        dir.join("p.json"),
        r#"{"vm_of":{"a":"h0-v0","b":"h0-v1","c":"h0-v1"},"topology":"topo.json"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("q.json"),
        r#"{"vm_of":{"a":"h0-v0","b":"h0-v0","c":"h0-v1"},"topology":"topo.json"}"#,
    )
    .unwrap();
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

#[test]
fn cost_reads_the_placement_from_stdin_and_finds_topology_and_testbed() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = bin()
        .current_dir(dir.path())
        .arg("cost")
        .write_stdin(std::fs::read(dir.path().join("p.json")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    // h0-v1: 0.3 + 100·0.002 + 5·0.0005 = 0.5025
    assert!((v["tau"].as_f64().unwrap() - 0.5025).abs() < 1e-12);
    assert_eq!(v["bottleneck"]["name"], "h0-v1");
    assert_eq!(v["vms"][1]["vnodes"], 2);
}

#[test]
fn cost_with_target_reports_t_r_and_chi() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = bin()
        .current_dir(dir.path())
        .args([
            "cost",
            "--placement",
            "p.json",
            "--target",
            "q.json",
            "--tp",
            "10",
            "--to",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json(&out.stdout);
    // b moves h0-v1 → h0-v0: 10·(4.6+13.1+1.8) + 200 = 395 ms; h0-v1 holds 2 vnodes: +2·6 + 2·3.5
    assert!((v["t_r"].as_f64().unwrap() - 0.414).abs() < 1e-12);
    let (now, next) = (
        v["current"]["tau"].as_f64().unwrap(),
        v["target"]["tau"].as_f64().unwrap(),
    );
    assert!((next - 0.56).abs() < 1e-12);
    let chi = v["chi"].as_f64().unwrap();
    assert!((chi - (9.0 * next + 0.414 - 9.0 * now)).abs() < 1e-12);
    assert_eq!(v["beneficial"], false);
    assert_eq!(v["plan"]["moves"][0]["vnode"], "b");
    assert_eq!(v["plan"]["estimate"]["critical_vm"], "h0-v1");
}

#[test]
fn cost_human_is_a_table() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    bin()
        .current_dir(dir.path())
        .args(["cost", "--placement", "p.json", "--target", "q.json", "--human"])
        .assert()
        .success()
        .stdout(predicates::str::contains("bottleneck: vm h0-v1"))
        .stdout(predicates::str::contains("keep the current placement"));
}

#[test]
fn cost_uses_the_last_load_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("load.ndjson"),
        "{\"t\":1,\"cpu\":{\"a\":5}}\n\n{\"t\":2,\"cpu\":{\"c\":0.25},\"mbps\":[{\"a\":\"c\",\"b\":\"b\",\"rate\":10}]}\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["cost", "--placement", "p.json", "--load", "load.ndjson"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    // only the last snapshot counts: h0-v1 = 0.25 + 10·0.0005; a–b carries 0
    assert!((v["tau"].as_f64().unwrap() - 0.255).abs() < 1e-12);
}

#[test]
fn testbed_env_var_and_placement_field_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let sub = dir.path().join("elsewhere");
    std::fs::create_dir(&sub).unwrap();
    std::fs::rename(dir.path().join("testbed.json"), sub.join("tb.json")).unwrap();
    // via the environment
    bin()
        .current_dir(dir.path())
        .env("NETBALANCE_TESTBED", sub.join("tb.json"))
        .args(["cost", "--placement", "p.json"])
        .assert()
        .success();
    // via the placement's "testbed"
    let p = r#"{"vm_of":{"a":"h0-v0","b":"h0-v1","c":"h0-v1"},"topology":"topo.json","testbed":"elsewhere/tb.json"}"#;
    bin()
        .current_dir(dir.path())
        .arg("cost")
        .write_stdin(p)
        .assert()
        .success();
}

#[test]
fn a_broken_pipe_exits_0() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .args(["testbed", "--hosts", "2000", "--cpus", "64"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 16];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn testbed_generator_output_validates() {
    let out = bin().args(["testbed", "--hosts", "8", "--cpus", "8"]).output().unwrap();
    let tb: netbalance::model::Testbed = serde_json::from_slice(&out.stdout).unwrap();
    tb.validate("stdout").unwrap();
    assert_eq!(tb.vm_count(), 64);
    bin().args(["testbed", "--hosts", "0"]).assert().code(2);
}

#[test]
fn a_generated_topology_pipes_into_place_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let tb = bin().args(["testbed", "--hosts", "2", "--cpus", "4"]).output().unwrap();
    std::fs::write(dir.path().join("testbed.json"), tb.stdout).unwrap();
    let grid = bin()
        .args(["topology", "grid", "--width", "40", "--height", "40"])
        .output()
        .unwrap();
    assert!(grid.status.success());
    // topology on stdin of place: the placement must not record "-" as its topology
    let placed = bin()
        .current_dir(dir.path())
        .args(["place", "--topology", "-", "--moves", "20000"])
        .write_stdin(grid.stdout.clone())
        .output()
        .unwrap();
    assert!(placed.status.success(), "{}", String::from_utf8_lossy(&placed.stderr));
    let p: Value = json(&placed.stdout);
    assert!(p.get("topology").is_none());
    assert_eq!(p["vm_of"].as_object().unwrap().len(), 1600);
    std::fs::write(dir.path().join("p.json"), &placed.stdout).unwrap();
    // topology on stdin of cost, placement from a file
    let out = bin()
        .current_dir(dir.path())
        .args(["cost", "--placement", "p.json", "--topology", "-"])
        .write_stdin(grid.stdout)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    assert!((v["tau"].as_f64().unwrap() - p["tau"].as_f64().unwrap()).abs() < 1e-9);
}

/// `--migration` prices the moves in that mode (model §3.1), the testbed's
/// `"migration"` is the default, and the JSON says which mode it used.
#[test]
fn cost_prices_moves_in_the_chosen_migration_mode() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cost = |extra: &[&str]| {
        let out = bin()
            .current_dir(dir.path())
            .args(["cost", "--placement", "p.json", "--target", "q.json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json(&out.stdout)
    };
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-5;
    let stop = cost(&[]);
    assert_eq!(stop["migration"], "stop-copy");
    assert!(close(&stop["t_r"], 0.414) && stop["plan"]["estimate"].get("live_s").is_none());
    // b (10 MB) moves within h0: pause 40 + 70 + 200 ms, + 2·(6 + 3.5) ms on h0-v1;
    // then 10 % of 10·13.1 ms lost to page faults
    let post = cost(&["--migration", "post-copy"]);
    assert_eq!(post["migration"], "post-copy");
    assert!(close(&post["plan"]["estimate"]["live_s"], 0.0131));
    assert!(close(&post["t_r"], 0.329 + 0.0131), "{}", post["t_r"]);
    assert!(close(&post["plan"]["estimate"]["by_phase"]["transfer_s"], 0.0));
    // the testbed's "migration" is the default; the flag overrides it
    let path = dir.path().join("testbed.json");
    let mut tb: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    tb["migration"] = "pre-copy".into();
    std::fs::write(&path, tb.to_string()).unwrap();
    let pre = cost(&[]);
    assert_eq!(pre["migration"], "pre-copy");
    // one round of 10 MB (q = 1 MB/s · 17.7 ms/MB), then a pause for 0.177 MB
    let (last, per_mb) = (10.0 * 0.0177, 4.6 + 13.1);
    let pause = 19.0 + last * per_mb + 10.0 * 1.8 + 200.0;
    assert!(
        close(&pre["t_r"], (pause + 0.05 * 10.0 * per_mb) / 1000.0),
        "{}",
        pre["t_r"]
    );
    assert!(close(&cost(&["--migration", "stop-copy"])["t_r"], 0.414));
    let bad = bin()
        .current_dir(dir.path())
        .args([
            "cost",
            "--placement",
            "p.json",
            "--target",
            "q.json",
            "--migration",
            "lazy",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
