//! `-q` keeps stderr empty unless something fails: every cheap command
//! (no root, no hosts) is run with it, on success and on a negative answer
//! (exit 1), and must say nothing on stderr while stdout carries its data.

mod cli_support;

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

/// A small `simulate` (one run, two epochs, 2×2 VMs).
const SIMULATE: &[&str] = &[
    "simulate",
    "--topology",
    "grid",
    "--epochs",
    "2",
    "--hosts",
    "2",
    "--cpus",
    "2",
    "--runs",
    "1",
];

fn bin(dir: &Path) -> Command {
    let mut cmd = cli_support::bin();
    cmd.current_dir(dir).timeout(Duration::from_secs(120));
    cmd
}

/// Run `args` with `-q` in `dir`; the exit code and stdout; stderr must be empty.
fn quiet(dir: &Path, args: &[&str]) -> (i32, Vec<u8>) {
    let out = bin(dir).arg("-q").args(args).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        out.stderr.is_empty(),
        "netbalance -q {args:?} (exit {code}) wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, out.stdout)
}

fn save(dir: &Path, name: &str, args: &[&str]) {
    let (code, data) = quiet(dir, args);
    assert_eq!(code, 0, "{args:?}");
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
fn quiet_commands_write_nothing_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    save(d, "tb.json", &["testbed", "--hosts", "2", "--cpus", "2"]);
    save(d, "topo.json", &["topology", "grid", "--width", "4", "--height", "4"]);
    save(
        d,
        "p.json",
        &["place", "--topology", "topo.json", "--testbed", "tb.json"],
    );
    save(d, "loads.ndjson", &[SIMULATE, &["--loads"]].concat());
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [
            &args[..1],
            &["--topology", "topo.json", "--testbed", "tb.json"][..],
            &args[1..],
        ]
        .concat()
    }
    let ok: Vec<Vec<&str>> = vec![
        with(&["cost", "--placement", "p.json"]),
        with(&["place", "--moves", "20000"]),
        with(&["migrate", "--dry-run", "--target", "p.json", "--state-dir", "st"]),
        SIMULATE.to_vec(),
        [SIMULATE, &["--format", "csv"]].concat(),
        vec!["predict", "--load", "loads.ndjson"],
        vec!["predict", "--load", "loads.ndjson", "--evaluate"],
        vec!["export", "maxinet", "--placement", "p.json", "--testbed", "tb.json"],
        vec!["completions", "bash"],
    ];
    for args in &ok {
        let (code, out) = quiet(d, args);
        assert_eq!(code, 0, "{args:?}");
        assert!(!out.is_empty(), "{args:?}: no data on stdout");
    }
    // Negative answers (exit 1) are silent too: nothing to re-place, no lab here.
    let (code, _) = quiet(d, &with(&["place", "--placement", "p.json", "--moves", "2000"]));
    assert!(code == 0 || code == 1, "place --placement: exit {code}");
    let (code, out) = quiet(d, &["lab", "status", "--dir", "nolab"]);
    assert_eq!((code, out.len()), (1, 0), "lab status without a lab");
    let (code, _) = quiet(d, &["lab", "down", "--dir", "nolab"]);
    assert_eq!(code, 0, "lab down without a lab: nothing to do");
    // An error still says what went wrong.
    let out = bin(d)
        .args(["-q", "cost", "--placement", "missing.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}
