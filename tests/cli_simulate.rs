//! `netbalance simulate` from the command line: tagged NDJSON records that
//! add up, CSV, plots, reproducibility across thread counts, bad usage.

use serde_json::Value;
use std::path::Path;

mod cli_support;
use cli_support::bin;

/// A w×h grid topology file.
fn grid(dir: &Path, w: usize, h: usize) -> String {
    let vnodes: Vec<Value> = (0..w * h).map(|i| serde_json::json!({"id": format!("n{i}")})).collect();
    let mut links = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let i = r * w + c;
            if c + 1 < w {
                links.push(serde_json::json!({"a": format!("n{i}"), "b": format!("n{}", i + 1), "mbps": 1000}));
            }
            if r + 1 < h {
                links.push(serde_json::json!({"a": format!("n{i}"), "b": format!("n{}", i + w), "mbps": 1000}));
            }
        }
    }
    let path = dir.join("grid.json");
    std::fs::write(&path, serde_json::json!({"vnodes": vnodes, "links": links}).to_string()).unwrap();
    path.display().to_string()
}

const SMALL: [&str; 12] = [
    "--hosts",
    "2",
    "--cpus",
    "2",
    "--epochs",
    "4",
    "--epoch-s",
    "40",
    "--runs",
    "3",
    "--moves-per-s",
    "5000",
];

fn simulate(topo: &str, extra: &[&str]) -> std::process::Output {
    bin()
        .args(["simulate", "--topology", topo])
        .args(SMALL)
        .args(extra)
        .output()
        .unwrap()
}

fn records(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn ndjson_windows_runs_and_summary_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 6, 6);
    let out = simulate(&topo, &["--rate", "40"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    let of = |t: &str| recs.iter().filter(|r| r["type"] == t).collect::<Vec<_>>();
    let (windows, runs, summary) = (of("window"), of("run"), of("summary"));
    // 4 epochs of 40 s in windows of T_p = 10 s, for each of 3 runs
    assert_eq!((windows.len(), runs.len(), summary.len()), (48, 3, 1));
    assert_eq!(recs.last().unwrap()["type"], "summary");
    for (r, run) in runs.iter().enumerate() {
        let ws: Vec<_> = windows.iter().filter(|w| w["run"] == r).collect();
        // real time adds up to the run's runtime, windows tile virtual time
        let real: f64 = ws.iter().map(|w| w["real_s"].as_f64().unwrap()).sum();
        // results are rounded to 6 significant digits (io::RESULT_DIGITS)
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1.0);
        assert!(close(real, run["runtime_with_s"].as_f64().unwrap()));
        let f = |w: &Value, k: &str| w[k].as_f64().unwrap();
        assert!(ws
            .windows(2)
            .all(|p| close(f(p[0], "t") + f(p[0], "length_s"), f(p[1], "t"))));
        let without: f64 = ws.iter().map(|w| f(w, "tau_baseline") * f(w, "length_s")).sum();
        assert!(close(without, run["runtime_without_s"].as_f64().unwrap()));
        let baseline: f64 = ws.iter().map(|w| f(w, "baseline_s")).sum();
        assert!(close(baseline, run["runtime_without_s"].as_f64().unwrap()));
        let mut changed = 0;
        for w in &ws {
            let d = w["decision"].as_str().unwrap();
            assert!(["changed", "kept"].contains(&d));
            let moved = w["moved"].as_array().unwrap().len();
            assert_eq!(d == "changed", moved > 0);
            // the optimiser is asked only when the prediction is new (each sink once at most)
            let asked = !["prediction_unchanged", "window_too_short"].contains(&w["reason"].as_str().unwrap());
            assert_eq!(asked, w.get("chi").is_some());
            changed += usize::from(d == "changed");
        }
        assert_eq!(changed as u64, run["migrations"].as_u64().unwrap());
    }
    let rel: Vec<f64> = runs.iter().map(|r| r["relative_runtime"].as_f64().unwrap()).collect();
    let mean = rel.iter().sum::<f64>() / 3.0;
    let sd = (rel.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let s = &summary[0];
    assert!((s["relative_runtime"]["mean"].as_f64().unwrap() - mean).abs() < 1e-5);
    assert!((s["relative_runtime"]["stddev"].as_f64().unwrap() - sd).abs() < 1e-5);
    assert_eq!(s["parameters"]["vnodes"], 36);
    assert_eq!(s["parameters"]["moves"], 5000);
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 5, 5);
    let one = simulate(&topo, &["--threads", "1"]);
    let two = simulate(&topo, &["--threads", "2"]);
    assert!(one.status.success());
    assert_eq!(one.stdout, two.stdout);
    let other_seed = simulate(&topo, &["--threads", "2", "--seed", "9"]);
    assert_ne!(one.stdout, other_seed.stdout);
}

#[test]
fn csv_has_one_row_per_window_and_the_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 5, 5);
    let out = simulate(&topo, &["--format", "csv"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("run,t,length_s,"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 48);
    assert!(rows.iter().all(|r| r.split(',').count() == 17));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"type\":\"summary\""));
}

#[test]
fn plot_writes_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 5, 5);
    let svg = dir.path().join("tau.svg");
    let out = simulate(&topo, &["--runs", "1", "--plot", svg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("without NETbalance"));
}

/// A `.pdf` plot is a PDF whose page follows `--plot-size` and `--plot-dpi`
/// (points = pixels × 72 / dpi), with its labels as text.
#[test]
fn plot_writes_a_pdf_sized_by_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 5, 5);
    let media_box = |args: &[&str]| {
        let pdf = dir.path().join("tau.pdf");
        let out = simulate(
            &topo,
            &[&["--runs", "1", "--plot", pdf.to_str().unwrap()][..], args].concat(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bytes = std::fs::read(&pdf).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/FontFile2"), "the labels' font is not embedded");
        let at = text.find("/MediaBox [").expect("a page") + "/MediaBox [".len();
        let numbers: Vec<f64> = text[at..]
            .split(']')
            .next()
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        (numbers[2], numbers[3])
    };
    assert_eq!(media_box(&[]), (720.0, 375.0), "960x500 px at 96 dpi");
    assert_eq!(media_box(&["--plot-size", "480x400"]), (360.0, 300.0));
    assert_eq!(
        media_box(&["--plot-size", "480x400", "--plot-dpi", "72"]),
        (480.0, 400.0)
    );
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 3, 3);
    for (args, needle) in [
        (vec!["--runs", "0"], "--runs 0: need a whole number in [1, "),
        (vec!["--tp", "1", "--to", "2"], "T_o <= T_p"),
        (vec!["--rate=-1"], "--rate"),
        (vec!["--plot", "x.txt"], ".svg, .png or .pdf"),
    ] {
        let out = bin()
            .args(["simulate", "--topology", &topo])
            .args(SMALL)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = bin()
        .args(["simulate", "--topology", "nosuchtopology"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"vnodes":[{"id":"a"}],"links":[{"a":"a","b":"zz","mbps":1}]}"#).unwrap();
    let out = bin()
        .args(["simulate", "--topology", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("links[0].b"));
}

#[test]
fn named_paper_topology_at_paper_size() {
    let out = bin()
        .args([
            "simulate",
            "--topology",
            "grid",
            "--runs",
            "1",
            "--epochs",
            "2",
            "--moves-per-s",
            "1000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (
            summary["parameters"]["vnodes"].as_u64(),
            summary["parameters"]["links"].as_u64()
        ),
        (Some(1600), Some(3120))
    );
    // 2 epochs of 120 s in windows of 10 s
    assert_eq!(recs.iter().filter(|r| r["type"] == "window").count(), 24);
}

/// `--migration post-copy` (model §3.1): at 100 MB and T_p 2 s, where a
/// stop-and-copy move costs more than a window can win back, post-copy moves
/// pay; the summary names the mode (and leaves it out for stop-copy, the paper's).
#[test]
fn post_copy_pays_where_stop_copy_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let topo = grid(dir.path(), 6, 6);
    let summary = |mode: &str| {
        let out = simulate(
            &topo,
            &["--rate", "400", "--memory-mb", "100", "--tp", "2", "--migration", mode],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        records(&out.stdout).pop().unwrap()
    };
    let (stop, post) = (summary("stop-copy"), summary("post-copy"));
    assert!(stop["parameters"].get("migration").is_none());
    assert_eq!(post["parameters"]["migration"], "post-copy");
    let rel = |s: &Value| s["relative_runtime"]["mean"].as_f64().unwrap();
    let moves = |s: &Value| s["migrations"]["mean"].as_f64().unwrap();
    assert!(
        rel(&post) < rel(&stop),
        "post-copy {} vs stop-copy {}",
        rel(&post),
        rel(&stop)
    );
    assert!(moves(&post) > moves(&stop));
}
