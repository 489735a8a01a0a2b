//! `netbalance migrate` from the command line, with the testbed replaced by
//! the fake driver (`NETBALANCE_TEST_DRIVER=fake:world.json,...`, a world
//! kept in a file): the `place | migrate` pipes, deploy → migrate →
//! teardown, injected host failures (exit 3, nothing lost), a crash taken up
//! with --resume/--rollback, two concurrent runs on one state dir, and torn
//! or hand-edited state files.

use assert_cmd::Command;
use netbalance::migrate::fake::World;
use netbalance::model::Placement;
use std::path::Path;
use std::process::Output;

fn bin(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("netbalance").unwrap();
    c.current_dir(dir)
        .env_remove("NETBALANCE_TESTBED")
        .env_remove("NETBALANCE_TEST_DRIVER");
    c
}

/// A directory with testbed.json (2 hosts × 3 VMs), waxman.json (30 vnodes)
/// and two placements, a.json and b.json, that differ in many vnodes.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str], file: &str| {
        let out = bin(d).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(d.join(file), out.stdout).unwrap();
    };
    run(&["testbed", "--hosts", "2", "--cpus", "3"], "testbed.json");
    run(&["topology", "waxman", "--nodes", "30", "--seed", "3"], "waxman.json");
    run(
        &["place", "--topology", "waxman.json", "--moves", "500", "--seed", "1"],
        "a.json",
    );
    let mut b: Placement = serde_json::from_slice(&std::fs::read(d.join("a.json")).unwrap()).unwrap();
    let vms = ["h0-v0", "h0-v1", "h0-v2", "h1-v0", "h1-v1", "h1-v2"];
    for (i, vm) in b.vm_of.values_mut().enumerate() {
        if i % 2 == 0 {
            let k = vms.iter().position(|v| v == vm).unwrap();
            *vm = vms[(k + 1 + i % 5) % 6].to_string();
        }
    }
    std::fs::write(d.join("b.json"), serde_json::to_vec(&b).unwrap()).unwrap();
    dir
}

fn placement(bytes: &[u8]) -> Placement {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}
fn file_placement(path: &Path) -> Placement {
    placement(&std::fs::read(path).unwrap())
}
fn world(dir: &Path) -> World {
    serde_json::from_slice(&std::fs::read(dir.join("world.json")).unwrap()).unwrap()
}
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
/// The state file's placement, read by the library (checksum verified).
fn in_force(dir: &Path) -> Option<Placement> {
    netbalance::state::StateDir::at(dir.join(".netbalance"))
        .placement()
        .unwrap()
}
/// The world runs exactly what the state dir says, with the journal closed.
fn assert_consistent(dir: &Path) -> Placement {
    let p = in_force(dir).expect("a placement in force");
    world(dir).check(&p.vm_of).unwrap();
    let journal = netbalance::state::StateDir::at(dir.join(".netbalance"))
        .journal()
        .unwrap();
    assert!(journal.unfinished().is_none(), "journal left open");
    p
}

fn migrate(dir: &Path, driver: &str, args: &[&str]) -> Output {
    bin(dir)
        .env("NETBALANCE_TEST_DRIVER", format!("fake:world.json{driver}"))
        .arg("migrate")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn place_pipe_dry_run_prints_a_deployment_plan_and_touches_nothing() {
    let dir = setup();
    let d = dir.path();
    let out = bin(d)
        .arg("migrate")
        .arg("--dry-run")
        .write_stdin(std::fs::read(d.join("a.json")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["vnodes"], 30);
    let deployed: usize = plan["deploy"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(deployed, 30);
    assert!(!d.join(".netbalance").exists(), "--dry-run created the state dir");
}

#[test]
fn the_documented_pipes_work_as_typed() {
    let dir = setup();
    let d = dir.path();
    let sh = |line: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(d)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    Path::new(env!("CARGO_BIN_EXE_netbalance")).parent().unwrap().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("NETBALANCE_TEST_DRIVER", "fake:world.json")
            .output()
            .unwrap()
    };
    let out = sh("netbalance place --topology waxman.json --moves 300 | netbalance migrate");
    assert!(out.status.success(), "{}", stderr(&out));
    let deployed = placement(&out.stdout);
    assert_eq!(assert_consistent(d).vm_of, deployed.vm_of);
    let out = sh("netbalance place --topology waxman.json --moves 300 --seed 9 | netbalance migrate --dry-run");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: netbalance::model::MigrationPlan = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!plan.moves.is_empty() && plan.makespan_s > 0.0);
    assert_eq!(
        in_force(d).unwrap().vm_of,
        deployed.vm_of,
        "--dry-run changed the state"
    );
}

#[test]
fn deploy_migrate_teardown() {
    let dir = setup();
    let d = dir.path();
    let out = migrate(d, "", &["--target", "a.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(placement(&out.stdout).vm_of, file_placement(&d.join("a.json")).vm_of);
    assert_consistent(d);
    let out = migrate(d, "", &["--dry-run", "--target", "b.json"]);
    let plan: netbalance::model::MigrationPlan = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan.moves.len() >= 10, "{} moves", plan.moves.len());
    let out = migrate(d, "", &["--target", "b.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(placement(&out.stdout).vm_of, file_placement(&d.join("b.json")).vm_of);
    assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join("b.json")).vm_of);
    let out = migrate(d, "", &["--teardown", "--dry-run"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["vnodes"], 30, "{plan}");
    assert!(in_force(d).is_some(), "--teardown --dry-run changed the state");
    let out = migrate(d, "", &["--teardown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(placement(&out.stdout).vm_of.is_empty());
    assert!(in_force(d).is_none());
    world(d).check(&Default::default()).unwrap();
}

#[test]
fn an_injected_host_failure_exits_3_with_the_placement_in_force_consistent() {
    for fault in [
        ",fail=restore:2",
        ",fail=transfer:1",
        ",fail-after=reattach:3",
        ",unreachable=h1-v1:3:3",
    ] {
        let dir = setup();
        let d = dir.path();
        assert!(migrate(d, "", &["--target", "a.json"]).status.success());
        let out = migrate(d, fault, &["--target", "b.json"]);
        assert_eq!(out.status.code(), Some(3), "{fault}: {}", stderr(&out));
        assert!(stderr(&out).contains(".netbalance/placement.json"), "{}", stderr(&out));
        let reached = placement(&out.stdout);
        assert_eq!(assert_consistent(d).vm_of, reached.vm_of, "{fault}");
        // Running again (no fault) finishes the job.
        let out = migrate(d, "", &["--target", "b.json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join("b.json")).vm_of);
    }
}

#[test]
fn a_crashed_migrate_is_resumed_or_rolled_back() {
    for (step, flag, want) in [
        ("restore:2", "--resume", "b.json"),
        ("transfer:3", "--rollback", "a.json"),
        ("checkpoint:1", "--resume", "b.json"),
    ] {
        let dir = setup();
        let d = dir.path();
        assert!(migrate(d, "", &["--target", "a.json"]).status.success());
        let out = migrate(d, &format!(",crash={step}"), &["--target", "b.json"]);
        assert!(
            !out.status.success() && out.status.code() != Some(3),
            "crash expected: {:?}",
            out.status
        );
        assert!(d.join(".netbalance/lock").exists(), "a crash leaves its lock");
        let out = migrate(d, "", &["--target", "b.json"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("stale lock") && stderr(&out).contains("--resume"),
            "{}",
            stderr(&out)
        );
        let journal = std::fs::read(d.join(".netbalance/journal.ndjson")).unwrap();
        let out = migrate(d, "", &["--dry-run", "--target", "b.json"]);
        assert!(
            out.status.success() && stderr(&out).contains("did not finish"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(d.join(".netbalance/journal.ndjson")).unwrap(),
            journal,
            "--dry-run touched the journal"
        );
        let out = migrate(d, "", &[flag]);
        assert!(out.status.success(), "{step} {flag}: {}", stderr(&out));
        let now = assert_consistent(d);
        assert_eq!(now.vm_of, file_placement(&d.join(want)).vm_of, "{step} {flag}");
        assert_eq!(placement(&out.stdout).vm_of, now.vm_of);
    }
}

#[test]
fn two_concurrent_migrates_one_is_locked_out_and_the_state_stays_consistent() {
    let dir = setup();
    let d = dir.path();
    assert!(migrate(d, "", &["--target", "a.json"]).status.success());
    // c.json: a third placement, so that both runs have moves to make.
    let mut c: Placement = file_placement(&d.join("a.json"));
    for (i, vm) in c.vm_of.values_mut().enumerate() {
        if i % 2 == 1 {
            *vm = if vm.as_str() == "h1-v2" {
                "h0-v0".into()
            } else {
                "h1-v2".into()
            };
        }
    }
    std::fs::write(d.join("c.json"), serde_json::to_vec(&c).unwrap()).unwrap();
    // Slow steps (real durations): the run that gets the lock holds it for seconds.
    let spawn = |target: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_netbalance"));
        c.current_dir(d)
            .env_remove("NETBALANCE_TESTBED")
            .env("NETBALANCE_TEST_DRIVER", "fake:world.json,scale=1")
            .args(["migrate", "--quiet", "--target", target])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("b.json");
    let second = spawn("c.json");
    let (pid1, pid2) = (first.id(), second.id());
    let (o1, o2) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    let codes = (o1.status.code(), o2.status.code());
    let (winner, loser, winner_pid, want) = match codes {
        (Some(0), Some(2)) => (&o1, &o2, pid1, "b.json"),
        (Some(2), Some(0)) => (&o2, &o1, pid2, "c.json"),
        _ => panic!(
            "expected one 0 and one 2, got {codes:?}: {} / {}",
            stderr(&o1),
            stderr(&o2)
        ),
    };
    assert!(
        stderr(loser).contains(&format!("locked by pid {winner_pid}")),
        "{}",
        stderr(loser)
    );
    assert_eq!(placement(&winner.stdout).vm_of, file_placement(&d.join(want)).vm_of);
    assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join(want)).vm_of);
    assert!(!d.join(".netbalance/lock").exists(), "the lock was released");
}

#[test]
fn torn_or_hand_edited_state_is_named_and_not_trusted() {
    let dir = setup();
    let d = dir.path();
    assert!(migrate(d, "", &["--target", "a.json"]).status.success());
    let state = d.join(".netbalance/placement.json");
    let good = std::fs::read_to_string(&state).unwrap();
    let vm = file_placement(&d.join("a.json")).vm_of["n0"].clone();
    let other = if vm == "h0-v0" { "h0-v1" } else { "h0-v0" };
    let edited = good.replacen(&format!("\"n0\": \"{vm}\""), &format!("\"n0\": \"{other}\""), 1);
    assert_ne!(edited, good);
    for (text, what) in [
        (&good[..good.len() / 2], "torn"),
        (edited.as_str(), "checksum mismatch"),
    ] {
        std::fs::write(&state, text).unwrap();
        for args in [&["--target", "b.json"][..], &["--dry-run", "--target", "b.json"][..]] {
            let out = migrate(d, "", args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = stderr(&out);
            assert!(
                err.contains(".netbalance/placement.json") && err.contains(what),
                "{err}"
            );
            assert!(out.stdout.is_empty());
        }
    }
    // The placement in force can be stated explicitly instead.
    let out = migrate(d, "", &["--placement", "a.json", "--target", "b.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join("b.json")).vm_of);
}

/// `--migration` (model §3.1): a dry run prices the plan in that mode; a
/// real move in a mode this build cannot carry out there is refused (exit
/// 2) and touches nothing, rather than moving stop-and-copy under its name.
#[test]
fn migration_modes_are_priced_and_unbuilt_ones_refused() {
    let dir = setup();
    let d = dir.path();
    let out = migrate(d, "", &["--target", "a.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = |mode: &str| {
        let out = migrate(d, "", &["--dry-run", "--target", "b.json", "--migration", mode]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<netbalance::model::MigrationPlan>(&out.stdout).unwrap()
    };
    let (stop, post) = (plan("stop-copy"), plan("post-copy"));
    assert_eq!(stop.moves.len(), post.moves.len());
    // 10 MB vnodes: post-copy pauses 40 + 70 ms where stop-copy pauses 10·(4.6 + x + 1.8) ms
    assert!(
        post.makespan_s < stop.makespan_s,
        "{} vs {}",
        post.makespan_s,
        stop.makespan_s
    );
    assert!(post.estimate.live_s > 0.0 && stop.estimate.live_s == 0.0);
    // Pre-copy moves (these vnodes have no process: no memory to copy
    // ahead, their links move as in any mode), and back stop-and-copy.
    for (mode, target) in [("pre-copy", "b.json"), ("stop-copy", "a.json")] {
        let out = migrate(d, "", &["--target", target, "--migration", mode]);
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join(target)).vm_of);
    }
    // Post-copy runs between local VMs or between VMs over SSH: a testbed mixing them is refused.
    let mut remote: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("testbed.json")).unwrap()).unwrap();
    remote["hosts"][1]["vms"][0]["ssh"] = "root@192.0.2.1:22".into();
    std::fs::write(d.join("remote.json"), remote.to_string()).unwrap();
    let args = [
        "--testbed",
        "remote.json",
        "--target",
        "b.json",
        "--migration",
        "post-copy",
    ];
    let out = migrate(d, "", &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("h1-v0 is reached over SSH"), "{}", stderr(&out));
    assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join("a.json")).vm_of);
    let out = migrate(d, "", &["--target", "b.json", "--migration", "post-copy"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(assert_consistent(d).vm_of, file_placement(&d.join("b.json")).vm_of);
}
