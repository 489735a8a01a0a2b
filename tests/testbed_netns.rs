//! `/run/netns` on a host whose `/run` is a shared mount (systemd): a
//! namespace made by `ip netns add` could not be deleted again (`Cannot
//! remove namespace file …: Device or resource busy`) once `/run/netns` was
//! made private after it, as the testbed does for CRIU; with
//! `links::NETNS_DIR_SCRIPT` run first it can. Reproduced in a mount
//! namespace of the test's own (`unshare -m`) with a fresh tmpfs as a
//! shared `/run`: nothing reaches this machine's mounts.

mod testbed_support;

use netbalance::testbed::links::NETNS_DIR_SCRIPT;
use std::process::Command;
use testbed_support::*;

/// $1: run the preparation or not. Prints DEL-OK or DEL-FAILED.
const SCENARIO: &str = r#"set -e
mount --make-rprivate /
umount -l /run/netns 2>/dev/null || true
mount -t tmpfs netbalance-test /run
mount --make-shared /run
mkdir -p /run/netns
if [ "$1" = prepare ]; then sh -c "$2"; fi
ip netns add "$3"
mount --make-rprivate /run/netns
if ip netns del "$3" 2>/dev/null && ! test -e "/run/netns/$3"; then echo DEL-OK; else echo DEL-FAILED; fi"#;

fn scenario(prepare: bool) -> String {
    let name = format!("nb{}", tag());
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", SCENARIO, "netns-scenario"])
        .args([if prepare { "prepare" } else { "as-ip-does" }, NETNS_DIR_SCRIPT, &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scenario failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn namespaces_on_a_shared_run_can_be_deleted_after_the_preparation() {
    if !require(&["unshare", "ip", "mount", "umount"]) {
        return;
    }
    assert_eq!(scenario(false), "DEL-FAILED", "the busy namespace of a shared /run");
    assert_eq!(scenario(true), "DEL-OK", "with /run/netns out of /run's peer group");
}
