//! Issue 13 item 5: the netbalance binary on the VMs, copied and checked.

use super::lab;
use netbalance::testbed::provision::{artifact, binary_on, remote_path};
use netbalance::testbed::{Cmd, Executor};

#[test]
fn the_binary_is_provisioned_by_hash_and_runs_on_the_vms() {
    let Some(lab) = lab::shared() else { return };
    let local = env!("CARGO_BIN_EXE_netbalance");
    let hash = artifact(std::path::Path::new(local)).unwrap().hash.clone();
    for vm in &lab.vms {
        let mut ex = lab.executor(vm);
        let path = binary_on(&mut ex, local).unwrap();
        assert_eq!(path, remote_path(&hash));
        let sum = ex.run(&Cmd::new("sha256sum").arg(&path)).unwrap();
        assert_eq!(sum.split_whitespace().next(), Some(hash.as_str()), "{vm}");
        let version = ex.run(&Cmd::new(&path).arg("--version")).unwrap();
        assert!(version.starts_with("netbalance "), "{vm}: {version}");
    }
}

#[test]
fn a_tampered_copy_is_replaced_before_it_runs() {
    let Some(lab) = lab::shared() else { return };
    // A "binary" of its own (a script: copied as it is), so the shared copy is left alone.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("netbalance");
    let text = format!("#!/bin/sh\necho genuine {}\n", std::process::id());
    std::fs::write(&local, &text).unwrap();
    let hash = artifact(&local).unwrap().hash.clone();
    let remote = remote_path(&hash);
    // The VM already has a file at that path, with other content.
    let vm = &lab.vms[0];
    let parent = std::path::Path::new(&remote)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    lab.ssh_ok(vm, &["mkdir", "-p", &parent]);
    lab.ssh_ok(
        vm,
        &[
            "sh",
            "-c",
            &format!("printf '#!/bin/sh\\necho evil\\n' > {remote}; chmod +x {remote}"),
        ],
    );
    assert_eq!(lab.ssh_ok(vm, &[&remote]), "evil\n");
    let mut ex = lab.executor(vm);
    assert_eq!(binary_on(&mut ex, local.to_str().unwrap()).unwrap(), remote);
    let sum = lab.ssh_ok(vm, &["sha256sum", &remote]);
    assert_eq!(sum.split_whitespace().next(), Some(hash.as_str()));
    assert_eq!(lab.ssh_ok(vm, &[&remote]), format!("genuine {}\n", std::process::id()));
    lab.ssh_ok(vm, &["rm", "-rf", &parent]);
}
