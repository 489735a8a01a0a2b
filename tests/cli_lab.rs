//! `netbalance lab` without VMs: bad input is refused (exit 2, one line),
//! an empty directory has no lab (status exit 1, down a no-op), and the
//! testbed a lab writes works for the other commands (its "identity"
//! relative to the testbed file). No root needed.

use std::process::Command;

fn netbalance(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bad_arguments_and_missing_labs_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = netbalance(d.path(), &["lab", "up", "--vms", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--vms 0"));
    let out = netbalance(d.path(), &["lab", "up", "--vms", "1", "--memory-mb", "64"]);
    assert_eq!(out.status.code(), Some(2));
    // A testbed.json that is not a lab's is never overwritten.
    std::fs::write(d.path().join("testbed.json"), "{}").unwrap();
    let out = netbalance(d.path(), &["lab", "up", "--vms", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not from a lab"));
    assert_eq!(std::fs::read_to_string(d.path().join("testbed.json")).unwrap(), "{}");
    // No lab here.
    let out = netbalance(d.path(), &["lab", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = netbalance(d.path(), &["lab", "ssh", "h0-v0", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lab in"));
    let out = netbalance(d.path(), &["lab", "down"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to do"));
}

#[test]
fn a_relative_identity_is_relative_to_the_testbed_file() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("lab");
    std::fs::create_dir(&sub).unwrap();
    let tb = r#"{"hosts": [{"name": "h0", "nic_mbps": 1000, "vms": [{"name": "h0-v0", "ssh": "root@192.0.2.1"}]}],
                 "known_hosts": "/nonexistent/known_hosts", "identity": "id_ed25519"}"#;
    std::fs::write(sub.join("testbed.json"), tb).unwrap();
    let (testbed, _) = netbalance::inputs::resolve_testbed(Some(&sub.join("testbed.json")), None).unwrap();
    assert_eq!(
        testbed.identity.as_deref(),
        Some(sub.join("id_ed25519").to_str().unwrap())
    );
    let opts = netbalance::testbed::SshArgs::default().options(&testbed);
    assert_eq!(opts.identity.as_deref(), Some(sub.join("id_ed25519").as_path()));
    // --identity wins over the file.
    let args = netbalance::testbed::SshArgs {
        identity: Some("/other/key".into()),
        ..Default::default()
    };
    assert_eq!(
        args.options(&testbed).identity.as_deref(),
        Some(std::path::Path::new("/other/key"))
    );
}
