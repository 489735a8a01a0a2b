//! `calibrate` on local VMs: probes of two sizes are migrated between two
//! VMs of one host and the per-MB costs come out of the measurements; and
//! between two SSH "VMs", over each transfer path.

mod testbed_support;

use netbalance::migrate::calibrate::calibrate;
use netbalance::model::{Costs, Testbed};
use netbalance::state::StateDir;
use netbalance::testbed::transfer::TransferMode;
use netbalance::testbed::{Fleet, Paths, SshOptions};
use testbed_support::*;

/// The probes' names are unique per process, not per call (`measure_pair`):
/// the two tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A fleet of `testbed`'s local VMs with a state root and a journal in a
/// temporary directory (kept while the first value lives).
fn local_fleet(testbed: &Testbed) -> (tempfile::TempDir, Fleet, StateDir) {
    let state = tempfile::tempdir().unwrap();
    let paths = Paths {
        state_root: state.path().to_path_buf(),
        criu: which("criu").unwrap().display().to_string(),
        ..Paths::default()
    };
    let fleet = Fleet::new(testbed, SshOptions::new("/dev/null"), paths);
    let journal = StateDir::open(state.path().join("journal")).unwrap();
    (state, fleet, journal)
}

#[test]
fn calibrate_local_vms_measures_phases() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let testbed = Testbed::generate(1, 2, 1000.0);
    let (_state, mut fleet, journal) = local_fleet(&testbed);
    let cal = calibrate(&mut fleet, &testbed, &[4.0, 64.0], 2, &Costs::default(), &journal).unwrap();
    eprintln!("calibration: {}", serde_json::to_string(&cal).unwrap());
    assert_eq!(cal.pairs.len(), 1);
    assert_eq!(cal.pairs[0].class, "host");
    let runs = &cal.pairs[0].runs;
    assert_eq!(runs.len(), 2);
    // The images follow the probe's memory.
    let mb = |i: usize| runs[i].image_bytes as f64 / 1048576.0;
    assert!(mb(0) > 3.5 && mb(0) < 12.0, "4 MB probe: {} MB image", mb(0));
    assert!(mb(1) > 63.0 && mb(1) < 80.0, "64 MB probe: {} MB image", mb(1));
    assert!(runs
        .iter()
        .all(|r| r.checkpointed && r.snapshot_s > 0.0 && r.restore_s > 0.0));
    let c = &cal.costs;
    assert!(c.check().is_ok());
    assert!(c.snapshot_ms_per_mb >= 0.0 && c.snapshot_ms_per_mb < 200.0, "{c:?}");
    assert!(c.reattach_ms > 0.0);
    // The profile reproduces the measured moves on average (intercepts are
    // checkpoint_ms; reattach_ms is a links-only move with four links, more
    // than this probe's one; clamping a noisy negative slope can only add).
    assert!(c.checkpoint_ms > 0.0, "{c:?}");
    let model = |r: &netbalance::testbed::MigrationTimes| {
        let m = r.image_bytes as f64 / 1048576.0;
        c.suspend_ms
            + c.checkpoint_ms
            + m * (c.snapshot_ms_per_mb + c.transfer_ms_per_mb.host + c.restore_ms_per_mb)
            + c.reattach_ms
            + c.resume_ms
    };
    let measured: f64 = runs
        .iter()
        .map(|r| (r.suspend_s + r.snapshot_s + r.reap_s + r.transfer_s + r.reattach_s + r.restore_s + r.resume_s) * 1e3)
        .sum();
    let modelled: f64 = runs.iter().map(model).sum();
    eprintln!("calibration check: measured {measured:.0} ms, modelled {modelled:.0} ms");
    assert!(
        modelled >= 0.95 * measured && modelled < 2.0 * measured,
        "modelled {modelled} vs measured {measured}"
    );
    assert_eq!(
        c.transfer_ms_per_mb.net,
        Costs::default().transfer_ms_per_mb.net,
        "net transfer was not measured"
    );
    assert!(c.source.as_deref().unwrap().contains("host h0-v0->h0-v1"));
    // Nothing is left behind.
    let left = sh_ok(&["ip", "netns", "list"]);
    assert!(
        !left.contains(&netbalance::testbed::names::cgroup_name(&format!(
            "nbcal{}x0p",
            std::process::id()
        ))),
        "{left}"
    );
}

/// `calibrate` between the two SSH "VMs" (two hosts, one VM each): the
/// "net" transfer figure is measured the way migrations transfer, first
/// directly from VM to VM (the default), then with `"transfer": "ssh"`.
#[test]
fn calibrate_ssh_vms_reports_the_transfer_path() {
    if !require(SSH_CRIU_TOOLS) {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vms = two_ssh_vms(251, "c");
    let mut testbed = vms.testbed();
    let (opts, paths) = (vms.ssh_options(), vms.paths());
    let sizes: Vec<f64> = std::env::var("NB_CAL_SIZES")
        .ok()
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![4.0, 32.0]);
    for (mode, via, row) in [
        (TransferMode::Direct, "direct", "transfer, other host (direct TCP)"),
        (TransferMode::Ssh, "ssh", "transfer, other host (tar over SSH)"),
    ] {
        testbed.transfer = mode;
        let mut fleet = Fleet::new(&testbed, opts.clone(), paths.clone());
        let journal = tempfile::tempdir().unwrap();
        let journal = StateDir::open(journal.path().join("state")).unwrap();
        let cal = calibrate(&mut fleet, &testbed, &sizes, 1, &Costs::default(), &journal).unwrap();
        eprintln!(
            "calibration over ssh ({via}), load {}:\n{}",
            std::fs::read_to_string("/proc/loadavg").unwrap().trim(),
            cal.breakdown.table()
        );
        assert_eq!(cal.pairs.len(), 1);
        let p = &cal.pairs[0];
        assert_eq!((p.class.as_str(), p.via.as_str()), ("net", via));
        assert!(
            p.runs
                .iter()
                .all(|r| r.checkpointed && r.wire_bytes >= r.image_bytes && r.transfer_s > 0.0),
            "{:?}",
            p.runs
        );
        let big = p.runs.last().unwrap();
        assert!(
            big.image_bytes as f64 > 0.9 * sizes.last().unwrap() * 1048576.0,
            "{big:?}"
        );
        // The profile's net figure is the measured slope of this path, not the default.
        let tr = cal
            .breakdown
            .get(row)
            .unwrap_or_else(|| panic!("no row {row:?}:\n{}", cal.breakdown.table()));
        assert_eq!(cal.costs.transfer_ms_per_mb.net, tr.max(0.0));
        assert_ne!(
            cal.costs.transfer_ms_per_mb.net,
            Costs::default().transfer_ms_per_mb.net
        );
        assert!(cal
            .costs
            .source
            .as_deref()
            .unwrap()
            .contains(&format!("(transfer: {via})")));
    }
    // Nothing is left in either VM's state dir.
    for i in 0..2 {
        let left: Vec<_> = std::fs::read_dir(vms.root.path().join(format!("vm{i}")))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "vm{i} kept {left:?}");
    }
}

#[test]
fn calibrate_post_copy_measures_the_lazy_pause() {
    if !require(&["ip", "tc", "nsenter", "setsid", "criu", "nft"]) {
        return;
    }
    let check = sh(&["criu", "check", "--feature", "uffd-noncoop"]);
    if !String::from_utf8_lossy(&check.stdout).contains("is supported") {
        eprintln!("skipped: criu check --feature uffd-noncoop: not supported here");
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut testbed = Testbed::generate(1, 2, 1000.0);
    testbed.migration = Some(netbalance::model::MigrationMode::PostCopy);
    let (_state, mut fleet, journal) = local_fleet(&testbed);
    let cal = calibrate(&mut fleet, &testbed, &[4.0, 64.0], 1, &Costs::default(), &journal).unwrap();
    let pair = &cal.pairs[0];
    // Stop-and-copy probes still dump their memory; post-copy ones do not.
    assert!(pair.runs[1].image_bytes > 63 << 20, "{:?}", pair.runs[1]);
    assert_eq!(pair.post_copy_runs.len(), 2);
    for r in &pair.post_copy_runs {
        assert!(r.image_bytes < 8 << 20, "post-copy images {} bytes", r.image_bytes);
        assert!(r.pause_s > 0.0 && r.snapshot_s > 0.0 && r.pages_s > 0.0, "{r:?}");
    }
    let pc = &cal.costs.post_copy;
    let mean = |f: &dyn Fn(&netbalance::testbed::MigrationTimes) -> f64| {
        pair.post_copy_runs.iter().map(|t| f(t) * 1e3).sum::<f64>() / 2.0
    };
    assert!((pc.state_dump_ms - mean(&|t| t.snapshot_s)).abs() < 1e-6, "{pc:?}");
    assert!(pc.state_restore_ms > 0.0, "{pc:?}");
    // The model's post-copy pause from the profile is the measured one's
    // order: dump + restore within the measured pauses.
    assert!(
        pc.state_dump_ms + pc.state_restore_ms <= mean(&|t| t.pause_s) + 1e-6,
        "{pc:?}"
    );
    assert!(cal.costs.source.as_deref().unwrap_or("").contains("post_copy"));
    // The fault fraction is the vnode's, not the testbed's: kept, and the
    // probes' own counts (64 MB: ~16,000 pages) said in the note.
    assert_eq!(pc.fault_fraction, Costs::default().post_copy.fault_fraction);
    let lazy: u64 = pair.post_copy_runs.iter().map(|t| t.lazy_pages).sum();
    assert!(lazy > 16_000, "{:?}", pair.post_copy_runs);
    let note = cal.costs.source.as_deref().unwrap_or("");
    assert!(
        note.contains(&format!("of their {lazy} lazy pages on demand")),
        "{note}"
    );
}
