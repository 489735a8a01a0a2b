//! `netbalance status` against a real local deployment (root, namespaces):
//! healthy vnodes exit 0; a dead run process or a lost namespace is named
//! and exits 1; nothing deployed says so.

mod testbed_support;

use std::path::Path;
use std::process::{Command, Output};
use testbed_support::{require, tag};

fn netbalance(dir: &Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("netbalance"))
        .current_dir(dir)
        .env_remove("NETBALANCE_TESTBED")
        .args(args)
        .output()
        .unwrap()
}

/// Tears the deployment down whatever the test's outcome.
struct Teardown<'a>(&'a Path, String);

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let out = netbalance(self.0, &["migrate", "--teardown", "-q", "--state-root", &self.1]);
        if !out.status.success() {
            eprintln!("teardown: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn status_reports_pids_cpu_links_and_health() {
    if !require(&["ip", "nsenter", "tc"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("root").display().to_string();
    let (a, b) = (format!("{}a", tag()), format!("{}b", tag()));
    let empty = netbalance(d, &["status"]);
    assert!(empty.status.success());
    let v: serde_json::Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(v["deployed"], false);

    std::fs::write(
        d.join("topo.json"),
        format!(
            r#"{{"vnodes":[{{"id":"{a}","memory_mb":1,"run":"exec sleep 300"}},{{"id":"{b}","memory_mb":1}}],"links":[{{"a":"{a}","b":"{b}","mbps":100,"delay_ms":0}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("p.json"),
        format!(r#"{{"vm_of":{{"{a}":"h0-v0","{b}":"h0-v1"}},"topology":"topo.json","testbed":"testbed.json"}}"#),
    )
    .unwrap();
    let tb = netbalance(d, &["testbed", "--hosts", "1", "--cpus", "2"]);
    std::fs::write(d.join("testbed.json"), tb.stdout).unwrap();
    let deploy = netbalance(d, &["migrate", "-q", "--target", "p.json", "--state-root", &root]);
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    let _teardown = Teardown(d, root.clone());

    let status = |expected: i32| -> serde_json::Value {
        let out = netbalance(d, &["status", "--state-root", &root]);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = status(0);
    assert_eq!((v["deployed"].clone(), v["healthy"].clone()), (true.into(), 2.into()));
    let va = &v["vnodes"][0];
    assert_eq!(
        (va["id"].as_str(), va["vm"].as_str()),
        (Some(a.as_str()), Some("h0-v0"))
    );
    let pid = va["pid"].as_u64().expect("a's run process has a pid");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(va["cpu_s"].as_f64().is_some());
    assert_eq!(va["links"][0]["up"], true);
    assert_eq!(v["vnodes"][1]["pid"], serde_json::Value::Null, "b has no run");

    // The run process dies: a is unhealthy, b is not.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let v = status(1);
    assert_eq!(v["vnodes"][0]["healthy"], false);
    assert_eq!(v["vnodes"][0]["problems"][0], "its run process is not running");
    assert_eq!(v["vnodes"][1]["healthy"], true);

    let human = netbalance(d, &["status", "--human", "--state-root", &root]);
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(text.starts_with("VNODE"), "{text}");
    assert!(text.contains("2 vnode(s): 1 healthy, 1 not"), "{text}");
}
