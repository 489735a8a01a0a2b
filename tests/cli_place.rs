//! `netbalance place` from the command line: the output decodes and is
//! complete, `--moves` is deterministic, re-placement exits 1 when nothing
//! pays, pins/forbids/--max-moves hold, and `place | cost` needs no flags.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A 4×4 grid with traffic and CPU, so placement matters.
fn grid_topology() -> String {
    let id = |x: usize, y: usize| format!("n{}", y * 4 + x);
    let vnodes: Vec<String> = (0..16)
        .map(|i| format!(r#"{{"id":"n{i}","cpu":0.{}}}"#, 1 + i % 4))
        .collect();
    let mut links = Vec::new();
    for y in 0..4 {
        for x in 0..4 {
            if x + 1 < 4 {
                links.push(format!(r#"{{"a":"{}","b":"{}","mbps":100}}"#, id(x, y), id(x + 1, y)));
            }
            if y + 1 < 4 {
                links.push(format!(r#"{{"a":"{}","b":"{}","mbps":100}}"#, id(x, y), id(x, y + 1)));
            }
        }
    }
    format!(r#"{{"vnodes":[{}],"links":[{}]}}"#, vnodes.join(","), links.join(","))
}

mod cli_support;
use cli_support::bin;

fn setup(dir: &Path) {
    let out = bin()
        .args(["testbed", "--hosts", "2", "--cpus", "2", "--nic-mbps", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(dir.join("testbed.json"), out.stdout).unwrap();
    std::fs::write(dir.join("t.json"), grid_topology()).unwrap();
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

fn vm_of(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(v["vm_of"].clone()).unwrap()
}

const VMS: [&str; 4] = ["h0-v0", "h0-v1", "h1-v0", "h1-v1"];

#[test]
fn initial_placement_is_complete_and_deterministic_with_moves() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let run = |seed: &str| {
        let out = bin()
            .current_dir(dir.path())
            .args(["place", "--topology", "t.json", "--moves", "20000", "--seed", seed])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let first = run("7");
    assert_eq!(first, run("7"), "same seed and --moves: same bytes");
    let v = json(&first);
    let placed = vm_of(&v);
    assert_eq!(placed.len(), 16);
    assert!((0..16).all(|i| placed
        .get(&format!("n{i}"))
        .is_some_and(|vm| VMS.contains(&vm.as_str()))));
    assert_eq!(v["topology"], "t.json");
    assert_eq!(v["testbed"], "testbed.json");
    assert!(v["tau"].as_f64().unwrap() > 0.0);
    assert!(v.get("chi").is_none(), "an initial placement has no chi");
}

#[test]
fn place_pipes_into_cost_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let placed = bin()
        .current_dir(dir.path())
        .args(["place", "--topology", "t.json", "--moves", "5000"])
        .output()
        .unwrap();
    assert!(placed.status.success());
    let cost = bin()
        .current_dir(dir.path())
        .arg("cost")
        .write_stdin(placed.stdout.clone())
        .output()
        .unwrap();
    assert!(cost.status.success(), "{}", String::from_utf8_lossy(&cost.stderr));
    let (p, c) = (json(&placed.stdout), json(&cost.stdout));
    assert!((p["tau"].as_f64().unwrap() - c["tau"].as_f64().unwrap()).abs() < 1e-12);
}

#[test]
fn replacement_from_an_overloaded_vm_pays_and_respects_max_moves() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let all_on_one: Vec<String> = (0..16).map(|i| format!(r#""n{i}":"h0-v0""#)).collect();
    std::fs::write(
        dir.path().join("cur.json"),
        format!(r#"{{"vm_of":{{{}}},"topology":"t.json"}}"#, all_on_one.join(",")),
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args([
            "place",
            "--placement",
            "cur.json",
            "--moves",
            "20000",
            "--max-moves",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    assert!(v["chi"].as_f64().unwrap() < 0.0);
    let moved = vm_of(&v).values().filter(|vm| *vm != "h0-v0").count();
    assert!((1..=3).contains(&moved), "moved {moved}");
}

#[test]
fn no_beneficial_replacement_exits_1_with_the_current_placement() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    // Two idle-linked vnodes, one per VM on one host: every move costs T_r and cannot lower τ.
    std::fs::write(
        dir.path().join("two.json"),
        r#"{"vnodes":[{"id":"a","cpu":0.5},{"id":"b","cpu":0.5}]}"#,
    )
    .unwrap();
    let cur = r#"{"vm_of":{"a":"h0-v0","b":"h1-v1"},"topology":"two.json"}"#;
    std::fs::write(dir.path().join("cur.json"), cur).unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["place", "--placement", "cur.json", "--moves", "2000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no beneficial re-placement"));
    let v = json(&out.stdout);
    assert_eq!(
        vm_of(&v),
        BTreeMap::from([("a".into(), "h0-v0".into()), ("b".into(), "h1-v1".into())])
    );
}

#[test]
fn pins_and_forbidden_vms_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = bin()
        .current_dir(dir.path())
        .args([
            "place",
            "--topology",
            "t.json",
            "--moves",
            "20000",
            "--pin",
            "n0=h1-v1",
            "--pin",
            "n15=h1-v1",
            "--forbid",
            "h0-v0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let placed = vm_of(&json(&out.stdout));
    assert_eq!(placed["n0"], "h1-v1");
    assert_eq!(placed["n15"], "h1-v1");
    assert!(placed.values().all(|vm| vm != "h0-v0"));
}

#[test]
fn bad_constraints_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    for (args, needle) in [
        (vec!["--pin", "n0=nope"], "no VM \"nope\""),
        (vec!["--pin", "zz=h0-v0"], "no vnode \"zz\""),
        (vec!["--pin", "n0"], "expected VNODE=VM"),
        (vec!["--pin", "n0=h0-v0", "--forbid", "h0-v0"], "forbidden"),
        (
            vec![
                "--forbid", "h0-v0", "--forbid", "h0-v1", "--forbid", "h1-v0", "--forbid", "h1-v1",
            ],
            "every VM is forbidden",
        ),
        (
            vec!["--tp", "1e300", "--budget", "1e300"],
            "--tp 1e300: need a number of seconds in",
        ),
        (vec!["--tp", "1", "--budget", "2"], "T_o <= T_p"),
    ] {
        let time_budget = args.contains(&"--budget");
        let budget: &[&str] = if time_budget { &[] } else { &["--moves", "10"] };
        let out = bin()
            .current_dir(dir.path())
            .args(["place", "--topology", "t.json"])
            .args(budget)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
