//! `netbalance predict` from the command line: one prediction per snapshot
//! in the LoadSnapshot shape; `--evaluate` writes tagged records.

use serde_json::Value;

mod cli_support;
use cli_support::bin;

/// Snapshots at t = 0, 1, …: the link rate cycles 0, 10, 20.
fn cyclic(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"t":{i},"cpu":{{"n0":{}}},"mbps":[{{"a":"n1","b":"n0","rate":{}}}]}}"#,
                i % 3,
                (i % 3) * 10
            ) + "\n"
        })
        .collect()
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn last_value_by_default_one_prediction_per_snapshot() {
    let out = bin().arg("predict").write_stdin(cyclic(7)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let preds = lines(&out.stdout);
    assert_eq!(preds.len(), 7);
    // after t = 6 (rate 0): predicts t = 7 with the last value
    let last = preds.last().unwrap();
    assert_eq!(last["t"], 7.0);
    assert_eq!(last["cpu"]["n0"], 0.0);
    assert_eq!(last["mbps"][0], serde_json::json!({"a": "n0", "b": "n1", "rate": 0.0}));
}

#[test]
fn periodic_predicts_the_next_step_of_a_cycle() {
    let out = bin()
        .args(["predict", "--predictor", "periodic"])
        .write_stdin(cyclic(9))
        .output()
        .unwrap();
    assert!(out.status.success());
    // history 0,10,20,…,20 (t = 8): the next is 0
    assert_eq!(lines(&out.stdout).last().unwrap()["mbps"][0]["rate"], 0.0);
    // the old spelling (`--method`) still works
    let out = bin()
        .args(["predict", "--method", "periodic"])
        .write_stdin(cyclic(10))
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout).last().unwrap()["mbps"][0]["rate"], 10.0);
}

#[test]
fn evaluate_scores_all_methods() {
    let out = bin()
        .args(["predict", "--evaluate"])
        .write_stdin(cyclic(30))
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = lines(&out.stdout);
    let windows = recs.iter().filter(|r| r["type"] == "window").count();
    assert_eq!(windows, 3 * 29);
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["best"], "periodic");
    let mae = |m: &str| {
        summary["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["method"] == m)
            .unwrap()["mae"]
            .as_f64()
            .unwrap()
    };
    assert!(mae("periodic") < mae("last"));
}

#[test]
fn bad_snapshots_exit_2_naming_the_line() {
    let input = cyclic(2) + "{\"t\":3,\"cpu\":{\"n0\":-1}}\n";
    let out = bin().arg("predict").write_stdin(input).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("<stdin>:3") && err.contains("cpu.n0"), "{err}");
    let out = bin()
        .args(["predict", "--evaluate"])
        .write_stdin(cyclic(1))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["predict", "--alpha", "0"])
        .write_stdin(cyclic(3))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_names_one_predictor_flag() {
    for cmd in ["predict", "balance"] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--predictor <METHOD>"), "{cmd}: {help}");
        assert!(!help.contains("--method") && !help.contains("--loads"), "{cmd}: {help}");
    }
}
