//! The testbed commands end to end, as a user types them, on local VMs:
//! `migrate --dry-run`, `migrate` (deploy), `migrate` (live move), `monitor`,
//! `migrate --teardown`, `calibrate`.

mod testbed_support;

use std::path::Path;
use std::process::{Command, Output};
use testbed_support::*;

fn nb(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_netbalance"));
    c.current_dir(dir).args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    c.stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() });
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn cli_migrate_monitor_teardown_calibrate() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    if !nb(d, &["migrate", "--help"], None).status.success() {
        let msg = "the migrate/monitor/calibrate commands are not registered in src/cli.rs yet";
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
    std::fs::write(d.join("testbed.json"), ok(&nb(d, &["testbed", "--hosts", "1", "--cpus", "3"], None))).unwrap();
    std::fs::write(
        d.join("topo.json"),
        format!(
            r#"{{"vnodes":[{{"id":"{tag}a","memory_mb":5,"run":"exec sleep 1000"}},{{"id":"{tag}b"}},{{"id":"{tag}c"}}],
               "links":[{{"a":"{tag}a","b":"{tag}b","mbps":50,"delay_ms":2}},{{"a":"{tag}b","b":"{tag}c","mbps":20}}]}}"#
        ),
    )
    .unwrap();
    let p1 = format!(r#"{{"vm_of":{{"{tag}a":"h0-v0","{tag}b":"h0-v1","{tag}c":"h0-v2"}},"topology":"topo.json","testbed":"testbed.json"}}"#);
    let p2 = p1.replace(r#"a":"h0-v0""#, r#"a":"h0-v2""#);

    // Dry run with nothing in force: touches nothing.
    let o = nb(d, &["migrate", "--dry-run", "--state-root", st], Some(&p1));
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("would deploy 3 vnodes"));
    assert!(!d.join(".netbalance/placement.json").exists());

    // Deploy, then a live move, then monitor, then teardown.
    let out = ok(&nb(d, &["migrate", "--state-root", st, "--criu", &criu], Some(&p1)));
    assert!(out.contains(r#""h0-v0""#));
    let guard = scopeguard(d.to_path_buf(), st.to_string());
    assert!(d.join(".netbalance/placement.json").exists());
    let plan = ok(&nb(d, &["migrate", "--dry-run", "--state-root", st], Some(&p2)));
    assert!(plan.contains(r#""moves""#) && plan.contains(&format!(r#""vnode": "{tag}a""#)), "{plan}");
    let out = ok(&nb(d, &["migrate", "--state-root", st, "--criu", &criu], Some(&p2)));
    assert!(out.contains(&format!(r#""{tag}a": "h0-v2""#)), "{out}");
    let journal = std::fs::read_to_string(d.join(".netbalance/journal.ndjson")).unwrap();
    assert!(journal.contains(r#""event":"deploy""#) && journal.contains(r#""event":"migration""#), "{journal}");
    let ns = netbalance::testbed::names::netns_name(&format!("{tag}a"), "h0-v2");
    assert!(Path::new(&format!("/run/netns/{ns}")).exists());
    let snap = ok(&nb(d, &["monitor", "--count", "2", "--interval", "0.2", "--state-root", st], None));
    assert_eq!(snap.lines().count(), 2, "{snap}");
    let first: serde_json::Value = serde_json::from_str(snap.lines().next().unwrap()).unwrap();
    assert!(first["cpu"].get(format!("{tag}a")).is_some() && first["mbps"].as_array().unwrap().len() == 2, "{first}");
    ok(&nb(d, &["migrate", "--teardown", "--state-root", st], None));
    assert!(!Path::new(&format!("/run/netns/{ns}")).exists());
    assert!(!d.join(".netbalance/placement.json").exists());
    drop(guard);

    // calibrate prints a costs profile that `cost --costs` accepts.
    let costs = ok(&nb(d, &["calibrate", "--sizes-mb", "2,8", "--repeats", "1", "--state-root", st, "--criu", &criu], None));
    let c: serde_json::Value = serde_json::from_str(&costs).unwrap();
    assert!(c["restore_ms_per_mb"].as_f64().unwrap() >= 0.0 && c["source"].as_str().unwrap().contains("calibrate"));
}

/// Tears down whatever is in force if the test fails half-way.
struct Guard(std::path::PathBuf, String);
fn scopeguard(d: std::path::PathBuf, st: String) -> Guard {
    Guard(d, st)
}
impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.join(".netbalance/placement.json").exists() {
            let _ = nb(&self.0, &["migrate", "--teardown", "--state-root", &self.1], None);
        }
    }
}
