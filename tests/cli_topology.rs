//! `netbalance topology`: generated and imported topologies decode,
//! validate and have the paper's sizes; bad files fail with one line.

use assert_cmd::Command;
use netbalance::io::Source;
use netbalance::model::Topology;
use netbalance::topology::{read_topology, stats::Stats};
use std::path::{Path, PathBuf};

fn netbalance() -> Command {
    Command::cargo_bin("netbalance").unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Run `netbalance topology ARGS`, expect success, decode and validate stdout.
fn topology(args: &[&str]) -> Topology {
    let out = netbalance().arg("topology").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Topology = serde_json::from_slice(&out.stdout).expect("stdout is one topology JSON document");
    t.validate("<stdout>").unwrap();
    t
}

/// Run `netbalance topology ARGS`, expect exit 2 with one line on stderr and nothing on stdout.
fn topology_fails(args: &[&str]) -> String {
    let out = netbalance().arg("topology").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn paper_topologies_have_the_papers_sizes_and_are_connected() {
    for (name, n) in [("grid", 1600), ("waxman", 2500), ("campus", 5480), ("internet", 2113)] {
        let t = topology(&["paper", name]);
        assert_eq!(t.vnodes.len(), n, "{name}");
        assert_eq!(Stats::of(&t).components, 1, "{name}");
    }
    let grid = topology(&["grid", "--width", "40", "--height", "40"]);
    assert_eq!((grid.vnodes.len(), grid.links.len()), (1600, 2 * 40 * 39));
    assert_eq!(grid, topology(&["paper", "grid"]));
}

#[test]
fn seeds_decide_everything_random() {
    let run = |kind: &str, seed: &str| {
        let args = [kind, "--nodes", "300", "--seed", seed];
        netbalance().arg("topology").args(args).output().unwrap().stdout
    };
    for kind in ["waxman", "internet"] {
        assert_eq!(run(kind, "3"), run(kind, "3"), "{kind}");
        assert_ne!(run(kind, "3"), run(kind, "4"), "{kind}");
    }
    let campus = |seed| topology(&["campus", "--campuses", "6", "--seed", seed]);
    assert_eq!(campus("1"), campus("1"));
    assert_eq!(campus("1").vnodes.len(), 6 * 548);
}

#[test]
fn attribute_flags_set_every_vnode_and_link_and_stats_go_to_stderr() {
    let out = netbalance()
        .args([
            "topology",
            "grid",
            "--width",
            "3",
            "--height",
            "2",
            "--memory-mb",
            "100",
            "--mbps",
            "10",
            "--delay-ms",
            "5",
            "--stats",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let t: Topology = serde_json::from_slice(&out.stdout).unwrap();
    assert!(t.vnodes.iter().all(|n| n.memory_mb == 100.0));
    assert!(t.links.iter().all(|l| l.mbps == 10.0 && l.delay_ms == 5.0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("6 nodes, 7 links, degree min 2 / mean 2.33 / max 3, 1 component(s), diameter >= 3 hops"),
        "{err}"
    );
    // Without flags: the model's defaults.
    let t = topology(&["grid", "--width", "2", "--height", "1"]);
    assert_eq!(
        (t.vnodes[0].memory_mb, t.links[0].mbps, t.links[0].delay_ms),
        (10.0, 1000.0, 1.0)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert!(topology_fails(&["grid", "--width", "0"]).contains("--width and --height must be at least 1"));
    assert!(topology_fails(&["waxman", "--alpha", "1.5"]).contains("need 0 < alpha <= 1 and beta > 0"));
    assert!(topology_fails(&["internet", "--nodes", "10", "--mbps=-3"]).contains("--mbps -3: must be a number >= 0"));
    let huge = (1u64 << 40).to_string();
    assert!(topology_fails(&["grid", "--width", &huge, "--height", &huge])
        .contains("at most 10000000 vnodes can be generated"));
    assert!(topology_fails(&["campus", "--campuses", "20000"]).contains("at most 10000000 vnodes"));
    let out = netbalance().args(["topology", "paper", "torus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The figures topohub computed itself, stored in each file's `graph.stats`.
fn topohub_stats(file: &str) -> (usize, usize, usize) {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data(file)).unwrap()).unwrap();
    let s = &v["graph"]["stats"];
    let n = |k: &str| s[k].as_u64().unwrap() as usize;
    (n("nodes"), n("links"), n("diameter_hops"))
}

#[test]
fn topohub_node_link_files_import_with_their_own_figures() {
    for file in ["topohub-topozoo-Abilene.json", "topohub-sndlib-abilene.json"] {
        let t = read_topology(&Source::File(data(file))).unwrap();
        let s = Stats::of(&t);
        assert_eq!((s.nodes, s.links, s.diameter_estimate), topohub_stats(file), "{file}");
        assert_eq!(s.components, 1);
    }
    let t = topology(&["import", data("topohub-topozoo-Abilene.json").to_str().unwrap()]);
    assert_eq!(t.vnodes[0].id, "New_York");
    assert!(t.vnodes.iter().any(|n| n.id == "Washington_DC"));
}

#[test]
fn gml_graphml_and_edge_list_give_the_same_graph_as_the_node_link_file() {
    let reference = read_topology(&Source::File(data("topohub-topozoo-Abilene.json"))).unwrap();
    let pairs = |t: &Topology| {
        let mut p: Vec<(String, String)> = t
            .links
            .iter()
            .map(|l| (l.a.clone().min(l.b.clone()), l.a.clone().max(l.b.clone())))
            .collect();
        p.sort();
        p
    };
    for file in ["zoo-abilene.gml", "zoo-abilene.graphml", "abilene.edges"] {
        let t = topology(&["import", data(file).to_str().unwrap()]);
        assert_eq!(pairs(&t), pairs(&reference), "{file}");
        // Every other link carries a 10 Gbit/s speed; the rest the default.
        let fast = t.links.iter().filter(|l| l.mbps == 10_000.0).count();
        assert_eq!((fast, t.links.len() - fast), (7, 7), "{file}");
    }
    // Content sniffing on stdin, and an explicit --format.
    for (file, format) in [
        ("zoo-abilene.gml", "gml"),
        ("zoo-abilene.graphml", "graphml"),
        ("topohub-sndlib-abilene.json", "node-link"),
        ("abilene.edges", "edge-list"),
    ] {
        let sniffed = netbalance()
            .args(["topology", "import", "-"])
            .pipe_stdin(data(file))
            .unwrap()
            .output()
            .unwrap();
        assert!(
            sniffed.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&sniffed.stderr)
        );
        let named = topology(&["import", "--format", format, data(file).to_str().unwrap()]);
        assert_eq!(
            serde_json::from_slice::<Topology>(&sniffed.stdout).unwrap(),
            named,
            "{file}"
        );
    }
}

#[test]
fn malformed_files_fail_with_one_line_naming_file_and_line_or_path() {
    let cases = [
        (
            "broken-unclosed.gml",
            "broken-unclosed.gml:6: list `node [` opened here is never closed",
        ),
        (
            "broken-dangling.graphml",
            "broken-dangling.graphml:7: edge target \"2\" is not a node id",
        ),
        (
            "broken-speed.edges",
            "broken-speed.edges:3: the third word is not a bandwidth in [0, 1e12] Mbit/s",
        ),
        (
            "broken-node-link.json",
            "broken-node-link.json: links[1].target: 5 is not a node id",
        ),
    ];
    for (file, expected) in cases {
        let err = topology_fails(&["import", data(file).to_str().unwrap()]);
        assert!(err.contains(expected), "{err:?} should contain {expected:?}");
    }
}

#[test]
fn other_commands_read_imported_formats_through_topology_flag() {
    let dir = tempfile::tempdir().unwrap();
    let testbed = dir.path().join("testbed.json");
    let tb = netbalance()
        .args(["testbed", "--hosts", "1", "--cpus", "2"])
        .output()
        .unwrap();
    std::fs::write(&testbed, tb.stdout).unwrap();
    let t = read_topology(&Source::File(data("zoo-abilene.gml"))).unwrap();
    let vm_of: serde_json::Map<String, serde_json::Value> = t
        .vnodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), format!("h0-v{}", i % 2).into()))
        .collect();
    let placement = serde_json::json!({ "vm_of": vm_of }).to_string();
    for file in [
        "zoo-abilene.gml",
        "zoo-abilene.graphml",
        "abilene.edges",
        "topohub-topozoo-Abilene.json",
    ] {
        let out = netbalance()
            .args([
                "cost",
                "--testbed",
                testbed.to_str().unwrap(),
                "--topology",
                data(file).to_str().unwrap(),
            ])
            .write_stdin(placement.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["tau"].as_f64().unwrap() > 0.0, "{file}");
    }
}

#[test]
fn containerlab_yaml_is_imported_by_extension_and_by_content() {
    let t = topology(&["import", data("srl-ceos.clab.yml").to_str().unwrap()]);
    let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["srl", "ceos", "client1"]);
    assert_eq!(t.links.len(), 2, "two srl-ceos links merge; the host link is dropped");
    let sniffed = netbalance()
        .args(["topology", "import", "-"])
        .pipe_stdin(data("srl-ceos.clab.yml"))
        .unwrap()
        .output()
        .unwrap();
    assert!(sniffed.status.success(), "{}", String::from_utf8_lossy(&sniffed.stderr));
    assert_eq!(serde_json::from_slice::<Topology>(&sniffed.stdout).unwrap(), t);
}

/// Content that fits no format is refused, naming what it looked like and
/// offering `--format` (a YAML file was once read as an edge list).
#[test]
fn content_fitting_no_format_is_refused_with_what_was_seen() {
    let dir = tempfile::tempdir().unwrap();
    for (text, seen) in [
        ("vnodes: []\n", "looks like YAML"),
        ("a b c d\n", "line 1 is not an edge-list line"),
        ("a b\nb c fast\n", "line 2 is not an edge-list line"),
        ("key = value\n", "line 1 is not an edge-list line"),
    ] {
        let file = dir.path().join("t.txt");
        std::fs::write(&file, text).unwrap();
        let err = topology_fails(&["import", file.to_str().unwrap()]);
        assert!(err.contains(seen), "{text:?}: {err}");
        assert!(err.contains("--format F"), "{err}");
        // the same through another command's --topology
        let testbed = dir.path().join("testbed.json");
        let tb = netbalance::model::Testbed::generate(1, 2, 1000.0);
        std::fs::write(&testbed, serde_json::to_string(&tb).unwrap()).unwrap();
        let out = netbalance()
            .arg("place")
            .arg("--topology")
            .arg(&file)
            .arg("--testbed")
            .arg(&testbed)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(seen));
    }
}
