//! Shared by the `cli_*` integration tests: the binary under test, run with
//! none of the caller's `NETBALANCE_*` variables (testbed, test driver,
//! crash hook, input limit, font, ...), so that a developer's or CI's
//! environment cannot change what a test sees. A test that needs one sets it.
#![allow(dead_code)]

use assert_cmd::Command;

/// `netbalance`, with every `NETBALANCE_*` variable of this process removed.
pub fn bin() -> Command {
    let mut c = Command::cargo_bin("netbalance").unwrap();
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NETBALANCE_") {
            c.env_remove(name);
        }
    }
    c
}
