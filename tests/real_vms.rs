//! Every test on real VMs: one binary, one lab of QEMU VMs (`netbalance lab
//! up --vms 2`) booted once per test process and shared by all tests here,
//! torn down when the process exits (`lab down` from an `atexit` handler; a
//! lab left by a killed earlier run is taken down before the next boots).
//!
//! Prerequisites: root, qemu-system-x86_64, qemu-img, mmdebstrap, CRIU at
//! /usr/local/sbin/criu (`.ci/install-deps.sh`). Under `CI=true` a missing
//! one fails; elsewhere the tests skip with the reason.
//!
//! Adding tests: a new submodule under `tests/real_vms/` (declared below),
//! whose tests start with `let Some(lab) = lab::shared() else { return };`.
//! Tests run in parallel against the same two VMs: give what you create
//! names of your own (`testbed_support::tag()`), clean it up, and do not
//! take the lab down.

#[path = "testbed_support/mod.rs"]
mod testbed_support;

mod real_vms {
    pub mod lab;

    mod hosts;
    mod lab_cli;
    mod paper_live;
    mod postcopy;
    mod precopy;
    mod provision;
}
