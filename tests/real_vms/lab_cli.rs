//! Issue 12's own checks: `netbalance lab` up, ssh, status, down.

use super::lab::{self, netbalance};
use std::collections::HashSet;

#[test]
fn lab_ssh_runs_on_the_vm_with_output_and_exit_code_passed_through() {
    let Some(lab) = lab::shared() else { return };
    let kernel = lab.ssh_ok("h0-v0", &["uname", "-r"]);
    assert!(kernel.trim().ends_with("-amd64"), "a Debian kernel: {kernel:?}");
    let out = lab.ssh("h1-v0", &["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-stdout\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");
    // Each word is one argument on the VM (quoted for its shell).
    assert_eq!(
        lab.ssh_ok("h0-v0", &["printf", "%s|", "a b", "$HOME", "*"]),
        "a b|$HOME|*|"
    );
    // The VM knows its name and its neighbour's.
    assert_eq!(lab.ssh_ok("h1-v0", &["hostname"]).trim(), "h1-v0");
    lab.ssh_ok("h0-v0", &["ping", "-c", "1", "-W", "5", "h1-v0"]);
}

#[test]
fn every_vm_has_its_own_host_key_and_known_hosts_checks_it() {
    let Some(lab) = lab::shared() else { return };
    let known = std::fs::read_to_string(lab.dir.join("known_hosts")).unwrap();
    let keys: Vec<&str> = known.lines().map(|l| l.split_whitespace().nth(2).unwrap()).collect();
    assert_eq!(keys.len(), lab.vms.len(), "{known}");
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        keys.len(),
        "host keys repeat: {known}"
    );
    // What each VM presents is its line: its own key file matches, and the
    // SSH sessions above and below check it strictly.
    for (vm, key) in lab.vms.iter().zip(&keys) {
        let on_vm = lab.ssh_ok(vm, &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
        assert_eq!(on_vm.split_whitespace().nth(1), Some(*key), "{vm}");
    }
}

#[test]
fn the_testbed_file_works_as_written_and_the_guests_are_stock() {
    let Some(lab) = lab::shared() else { return };
    let tb = lab.testbed();
    assert_eq!(tb.vm_count(), lab.vms.len());
    assert!(tb.identity.is_some() && tb.known_hosts.is_some());
    for vm in &lab.vms {
        // The library's own SSH path, configured from testbed.json alone.
        let mut ex = lab.executor(vm);
        use netbalance::testbed::{Cmd, Executor};
        let fs = ex.run(&Cmd::new("stat").args(["-fc", "%T", "/sys/fs/cgroup"])).unwrap();
        assert_eq!(fs.trim(), "cgroup2fs", "{vm}: a stock guest has cgroup v2 only");
        let init = ex.run(&Cmd::new("cat").arg("/proc/1/comm")).unwrap();
        assert_eq!(init.trim(), "systemd", "{vm}");
        let criu = ex.run(&Cmd::new("/usr/local/sbin/criu").arg("--version")).unwrap();
        assert!(criu.contains("4.1.1"), "{vm}: {criu}");
    }
    // `lab status` from the lab directory, as a user would type it.
    let out = lab.netbalance().args(["lab", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = st["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, lab.vms.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(st["vms"].as_array().unwrap().iter().all(|v| v["running"] == true));
}

/// Everything a lab makes on this machine, for before/after comparisons.
fn leftovers(netns: &str, veth: &str, dir: &std::path::Path) -> Vec<String> {
    let mut left = Vec::new();
    if std::path::Path::new("/run/netns").join(netns).exists() {
        left.push(format!("netns {netns}"));
    }
    if std::path::Path::new("/sys/class/net").join(veth).exists() {
        left.push(format!("veth {veth}"));
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("qemu-system") && cmd.contains(&dir.display().to_string()) {
                left.push(format!("qemu pid {}", entry.file_name().to_string_lossy()));
            }
        }
    }
    for f in ["testbed.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "lab"] {
        if dir.join(f).exists() {
            left.push(format!("file {f}"));
        }
    }
    left
}

#[test]
fn down_leaves_no_qemu_namespace_interface_or_file() {
    // A lab of its own (one VM, the cached image): the shared one stays up.
    let Some(_shared) = lab::shared() else { return };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-vms-down-test");
    let _ = netbalance().args(["lab", "down", "--dir"]).arg(&dir).output();
    std::fs::create_dir_all(&dir).unwrap();
    let out = netbalance()
        .args(["lab", "up", "--vms", "1", "--no-provision", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    // The root end of the lab's veth has the namespace's name.
    let netns = status["netns"].as_str().unwrap_or_default().to_string();
    let veth = netns.clone();
    let down = netbalance().args(["lab", "down", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "up: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!netns.is_empty());
    assert!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
    assert_eq!(leftovers(&netns, &veth, &dir), Vec::<String>::new());
    // Taps and the bridge lived only in the namespace; none moved out.
    let links = std::fs::read_dir("/sys/class/net").unwrap();
    let names: Vec<String> = links
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(&netns)), "{names:?}");
    // A second down finds nothing and succeeds.
    let again = netbalance().args(["lab", "down", "--dir"]).arg(&dir).output().unwrap();
    assert!(again.status.success());
    let status = netbalance()
        .args(["lab", "status", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
}

#[test]
fn a_command_silent_for_a_minute_over_ssh_completes() {
    // libssh2's keepalive made blocking reads fail after a silent interval
    // ("Timed out waiting on socket"); slow TCG guests are silent for long.
    let Some(lab) = lab::shared() else { return };
    use netbalance::testbed::{Cmd, Executor};
    let mut ex = lab.executor("h1-v0");
    let out = ex.run(&Cmd::new("sh").args(["-c", "sleep 70; echo done"])).unwrap();
    assert_eq!(out, "done\n");
}
