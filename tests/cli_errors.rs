//! Malformed and hostile inputs: each gives one line on stderr naming the
//! file and the fault, and exit code 2 — never a panic, nothing on stdout.

use assert_cmd::Command;
use std::path::Path;

const TESTBED: &str = r#"{"hosts":[{"name":"h0","nic_mbps":1000,"vms":[{"name":"h0-v0","capacity":1.0},{"name":"h0-v1","capacity":1.0}]}]}"#;
const TOPO: &str = r#"{"vnodes":[{"id":"a","cpu":0.2},{"id":"b"}],"links":[{"a":"a","b":"b","mbps":100}]}"#;
const PLACEMENT: &str = r#"{"vm_of":{"a":"h0-v0","b":"h0-v1"}}"#;

/// (what is broken, which file, its content, text the error must contain)
fn cases() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("empty testbed file", "testbed.json", "", "empty input"),
        ("testbed not JSON", "testbed.json", "hosts: [h0]", "testbed.json:1:1"),
        (
            "testbed unknown field",
            "testbed.json",
            r#"{"hosts":[],"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            "testbed without hosts",
            "testbed.json",
            r#"{"hosts":[]}"#,
            "hosts: a testbed needs at least one host",
        ),
        (
            "negative capacity",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":1000,"vms":[{"name":"v","capacity":-1}]}]}"#,
            "hosts[0].vms[0].capacity",
        ),
        (
            "zero NIC",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":0,"vms":[{"name":"v"}]}]}"#,
            "hosts[0].nic_mbps",
        ),
        (
            "duplicate VM",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v"},{"name":"v"}]}]}"#,
            "duplicate VM name",
        ),
        (
            "nic as string",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":"fast","vms":[{"name":"v"}]}]}"#,
            "hosts[0].nic_mbps",
        ),
        (
            "password in ssh",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v","ssh":"root:hunter2@10.0.0.1"}]}]}"#,
            "password",
        ),
        (
            "shell in VM name",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v;reboot"}]}]}"#,
            "hosts[0].vms[0].name",
        ),
        (
            "negative costs",
            "testbed.json",
            r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v"}]}],"costs":{"suspend_ms":-1}}"#,
            "costs.suspend_ms",
        ),
        (
            "duplicate vnode",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"a"}]}"#,
            "vnodes[1].id: duplicate vnode id",
        ),
        (
            "dangling link",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"zz","mbps":1}]}"#,
            "links[0].b: dangling link",
        ),
        (
            "negative rate",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"b","mbps":1,"rate":-3}]}"#,
            "links[0].rate: negative",
        ),
        (
            "self loop",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"a","mbps":1}]}"#,
            "to itself",
        ),
        (
            "duplicate link",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"b","mbps":1},{"a":"b","b":"a","mbps":1}]}"#,
            "duplicate link",
        ),
        (
            "injection in vnode id",
            "topo.json",
            r#"{"vnodes":[{"id":"$(reboot)"}]}"#,
            "vnodes[0].id",
        ),
        (
            "id with spaces",
            "topo.json",
            r#"{"vnodes":[{"id":"a b"}]}"#,
            "vnodes[0].id",
        ),
        (
            "non-ASCII id",
            "topo.json",
            r#"{"vnodes":[{"id":"zürich"}]}"#,
            "vnodes[0].id",
        ),
        ("overlong id", "topo.json", "LONG_ID", "bytes long"),
        (
            "missing mbps",
            "topo.json",
            r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"b"}]}"#,
            "missing field `mbps`",
        ),
        (
            "truncated topology",
            "topo.json",
            r#"{"vnodes":[{"id":"a"}"#,
            "topo.json:1:",
        ),
        (
            "unknown vnode in placement",
            "p.json",
            r#"{"vm_of":{"a":"h0-v0","b":"h0-v1","zz":"h0-v0"}}"#,
            "vm_of.zz: unknown vnode",
        ),
        (
            "VM not in testbed",
            "p.json",
            r#"{"vm_of":{"a":"h0-v0","b":"h9-v9"}}"#,
            "vm_of.b: VM \"h9-v9\" is not in the testbed",
        ),
        (
            "incomplete placement",
            "p.json",
            r#"{"vm_of":{"a":"h0-v0"}}"#,
            "incomplete placement",
        ),
        ("placement is an array", "p.json", r#"["a","b"]"#, "invalid type"),
        (
            "placement unknown field",
            "p.json",
            r#"{"vm_of":{},"where":"x"}"#,
            "unknown field `where`",
        ),
        (
            "load on unknown link",
            "load.ndjson",
            "{\"t\":1,\"cpu\":{},\"mbps\":[]}\n{\"t\":2,\"mbps\":[{\"a\":\"a\",\"b\":\"c\",\"rate\":1}]}\n",
            "load.ndjson",
        ),
        (
            "load line not JSON",
            "load.ndjson",
            "{\"t\":1}\nnot json\n",
            "load.ndjson:2:",
        ),
        (
            "negative load",
            "load.ndjson",
            "{\"t\":1,\"cpu\":{\"a\":-0.5}}\n",
            "load.ndjson:1: cpu.a",
        ),
        (
            "costs profile typo",
            "costs.json",
            r#"{"suspend":6}"#,
            "unknown field `suspend`",
        ),
    ]
}

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

#[test]
fn each_malformed_input_gives_one_line_and_exit_2() {
    let cases = cases();
    assert!(cases.len() >= 30);
    for (what, file, content, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "testbed.json", TESTBED);
        write(dir.path(), "topo.json", TOPO);
        write(dir.path(), "p.json", PLACEMENT);
        let content = if content == "LONG_ID" {
            format!(r#"{{"vnodes":[{{"id":"{}"}}]}}"#, "x".repeat(300))
        } else {
            content.to_string()
        };
        write(dir.path(), file, &content);
        let mut cmd = Command::cargo_bin("netbalance").unwrap();
        cmd.current_dir(dir.path()).env_remove("NETBALANCE_TESTBED").args([
            "cost",
            "--placement",
            "p.json",
            "--topology",
            "topo.json",
        ]);
        if file == "load.ndjson" {
            cmd.args(["--load", "load.ndjson"]);
        }
        if file == "costs.json" {
            cmd.args(["--costs", "costs.json"]);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: exit code, stderr {stderr}");
        assert!(out.stdout.is_empty(), "{what}: stdout not empty");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: not one line: {stderr}");
        assert!(stderr.contains(file), "{what}: error does not name {file}: {stderr}");
        assert!(stderr.contains(expect), "{what}: expected {expect:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: panic");
    }
}

#[test]
fn missing_testbed_gives_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "topo.json", TOPO);
    write(dir.path(), "p.json", PLACEMENT);
    Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("NETBALANCE_TESTBED")
        .args(["cost", "--placement", "p.json", "--topology", "topo.json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "netbalance testbed --hosts 8 --cpus 8 > testbed.json",
        ));
}

#[test]
fn missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .args(["cost", "--placement", "nope.json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.json"));
}

#[test]
fn two_stdin_inputs_are_refused() {
    Command::cargo_bin("netbalance")
        .unwrap()
        .args(["cost", "--target", "-"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "only one input can come from stdin, but --target, --placement all read it",
        ));
}

#[test]
fn oversized_input_is_refused_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "testbed.json", TESTBED);
    write(dir.path(), "topo.json", TOPO);
    write(dir.path(), "p.json", PLACEMENT);
    Command::cargo_bin("netbalance")
        .unwrap()
        .current_dir(dir.path())
        .env("NETBALANCE_MAX_INPUT_BYTES", "64")
        .args(["cost", "--placement", "p.json", "--topology", "topo.json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("input larger than 64 bytes"));
}

/// Hostile names given to `migrate` (which would run commands on hosts):
/// refused with exit 2 before any state dir, namespace or command exists.
#[test]
fn hostile_names_never_reach_a_host() {
    let hostile_topologies = [
        r#"{"vnodes":[{"id":"a;rm -rf /"}]}"#,
        r#"{"vnodes":[{"id":"$(reboot)"}]}"#,
        r#"{"vnodes":[{"id":"`id`"}]}"#,
        r#"{"vnodes":[{"id":"a b"}]}"#,
        r#"{"vnodes":[{"id":"--help"}]}"#,
        r#"{"vnodes":[{"id":"../../etc"}]}"#,
        r#"{"vnodes":[{"id":"a\nb"}]}"#,
        r#"{"vnodes":[{"id":"日本"}]}"#,
    ];
    let hostile_testbeds = [
        r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v","ssh":"root@$(reboot)"}]}]}"#,
        r#"{"hosts":[{"name":"h0","nic_mbps":1,"vms":[{"name":"v","ssh":"-oProxyCommand=sh@x"}]}]}"#,
        r#"{"hosts":[{"name":"h0;reboot","nic_mbps":1,"vms":[{"name":"v"}]}]}"#,
    ];
    let mut cases: Vec<(String, String, &str)> = hostile_topologies
        .iter()
        .map(|t| (t.to_string(), TESTBED.to_string(), "topo.json"))
        .collect();
    cases.extend(
        hostile_testbeds
            .iter()
            .map(|tb| (TOPO.to_string(), tb.to_string(), "testbed.json")),
    );
    for (topo, testbed, culprit) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "testbed.json", &testbed);
        write(dir.path(), "topo.json", &topo);
        let target = r#"{"vm_of":{"a":"h0-v0"},"topology":"topo.json"}"#;
        let out = Command::cargo_bin("netbalance")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("NETBALANCE_TESTBED")
            .args(["migrate"])
            .write_stdin(target)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{topo} / {testbed}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
        assert!(
            stderr.contains(culprit),
            "{topo} / {testbed}: the error does not name {culprit}: {stderr}"
        );
        assert!(
            !dir.path().join(".netbalance").join("placement.json").exists(),
            "{topo}: a placement in force was written"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn traffic_refuses_a_vnode_not_in_its_topology_and_a_rate_that_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let topo = r#"{"vnodes":[{"id":"a"},{"id":"b"}],"links":[{"a":"a","b":"b","mbps":10}]}"#;
    std::fs::write(dir.path().join("t.json"), topo).unwrap();
    let traffic = |vnode: &str, mbps: &str| {
        let mut c = Command::cargo_bin("netbalance").unwrap();
        c.current_dir(dir.path()).args([
            "traffic",
            "--topology",
            "t.json",
            "--vnode",
            vnode,
            "--sink-file",
            "sink",
            &format!("--mbps={mbps}"),
            "--port",
            "0",
        ]);
        c
    };
    traffic("ghost", "1")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--vnode \"ghost\" is not a vnode of t.json"));
    traffic("a", "-1")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--mbps -1 is not a rate"));
}
