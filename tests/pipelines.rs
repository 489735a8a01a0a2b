//! The pipelines of model §7, run exactly as typed by `bash` in a directory
//! holding `testbed.json` and `waxman.json`.

mod testbed_support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use testbed_support::{require, tag};

/// Run a shell line in `dir` with the built `netbalance` first on PATH.
fn bash(dir: &Path, line: &str) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_netbalance")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    std::process::Command::new("bash")
        .args(["-o", "pipefail", "-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("NETBALANCE_TESTBED")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn ok_json(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: exit {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e})"))
}

/// testbed.json (2 hosts × 2 CPUs) and a 12-vnode waxman.json whose ids carry
/// a tag unique to this test, so namespaces never collide with other tests.
fn setup(dir: &Path) -> String {
    let t = tag();
    assert!(bash(dir, "netbalance testbed --hosts 2 --cpus 2 > testbed.json")
        .status
        .success());
    let out = bash(dir, "netbalance topology waxman --nodes 12 --seed 3");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut topo: netbalance::model::Topology = serde_json::from_str(&text).unwrap();
    for n in &mut topo.vnodes {
        n.id = format!("{t}{}", n.id);
    }
    for l in &mut topo.links {
        l.a = format!("{t}{}", l.a);
        l.b = format!("{t}{}", l.b);
    }
    std::fs::write(dir.join("waxman.json"), serde_json::to_string(&topo).unwrap()).unwrap();
    t
}

#[test]
fn place_pipes_into_cost() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let v = ok_json(
        &bash(dir.path(), "netbalance place --topology waxman.json | netbalance cost"),
        "place | cost",
    );
    assert!(v["tau"].as_f64().unwrap() > 0.0);
    assert_eq!(v["vms"].as_array().unwrap().len(), 4);
}

#[test]
fn place_pipes_into_migrate_dry_run_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let v = ok_json(
        &bash(
            dir.path(),
            "netbalance place --topology waxman.json | netbalance migrate --dry-run",
        ),
        "place | migrate --dry-run",
    );
    assert_eq!(v["vnodes"], 12);
    assert!(
        !dir.path().join(".netbalance").join("placement.json").exists(),
        "a dry run wrote a placement in force"
    );
}

#[test]
fn place_pipes_into_migrate_which_deploys_then_converges() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let placed = ok_json(
        &bash(
            dir.path(),
            "netbalance place --topology waxman.json | tee placed.json | netbalance migrate",
        ),
        "place | migrate",
    );
    let wanted: Value = serde_json::from_slice(&std::fs::read(dir.path().join("placed.json")).unwrap()).unwrap();
    assert_eq!(
        placed["vm_of"], wanted["vm_of"],
        "deploy reached the placement asked for"
    );
    let ns = String::from_utf8(bash(dir.path(), "ip netns list").stdout).unwrap();
    let ours = ns.lines().count();
    assert!(ours >= 12, "expected at least 12 namespaces, saw {ours}");

    // converge: move one vnode to another VM and pipe the target in again
    let mut target = wanted.clone();
    let first = format!("{t}n0");
    let from = target["vm_of"][&first].as_str().unwrap().to_string();
    let to = if from == "h1-v1" { "h0-v0" } else { "h1-v1" };
    target["vm_of"][&first] = Value::from(to);
    std::fs::write(dir.path().join("target.json"), serde_json::to_string(&target).unwrap()).unwrap();
    let reached = ok_json(
        &bash(dir.path(), "netbalance migrate < target.json"),
        "migrate to target",
    );
    assert_eq!(reached["vm_of"], target["vm_of"]);
    let again = ok_json(
        &bash(dir.path(), "netbalance migrate --dry-run < target.json"),
        "dry run at the target",
    );
    assert_eq!(
        again["moves"].as_array().expect("a plan with moves").len(),
        0,
        "nothing left to move: {again}"
    );
    let back = ok_json(
        &bash(dir.path(), "netbalance migrate --dry-run < placed.json"),
        "dry run back",
    );
    assert_eq!(
        back["moves"].as_array().expect("a plan with moves").len(),
        1,
        "one vnode to move back: {back}"
    );

    let down = bash(dir.path(), "netbalance migrate --teardown");
    assert!(
        down.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(ok_json(&down, "teardown")["vm_of"].as_object().unwrap().is_empty());
}

#[test]
fn monitor_pipes_through_predict_into_place_and_the_pipe_ends() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let deployed = bash(
        dir.path(),
        "netbalance place --topology waxman.json | netbalance migrate > cur.json",
    );
    assert!(
        deployed.status.success(),
        "deploy: {}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    let out = bash(
        dir.path(),
        "timeout 60 bash -c 'netbalance monitor --interval 1 | netbalance predict | netbalance place --placement cur.json; echo \"${PIPESTATUS[*]}\" >&2'",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let codes = stderr.lines().last().unwrap_or_default().to_string();
    // monitor and predict see a closed pipe (exit 0); place answers 0 (re-placed) or 1 (kept)
    assert!(
        codes == "0 0 0" || codes == "0 0 1",
        "exit codes {codes:?}; stderr {stderr}"
    );
    let p: netbalance::model::Placement = serde_json::from_slice(&out.stdout).expect("place wrote a placement");
    assert_eq!(p.vm_of.len(), 12);
    let down = bash(dir.path(), "netbalance migrate --teardown");
    assert!(
        down.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&down.stderr)
    );
}
