//! A bounded fuzz run of every parser, in the normal suite: mutated valid
//! documents and random text, each parser at least 10,000 inputs (more with
//! `NETBALANCE_FUZZ_CASES=N`, see the `fuzz` script). No input may panic or
//! take over a second, and a wrong input must be refused: every accepted
//! JSON input is checked by an oracle written independently of the parser
//! (one document, each key once, objects never in array form, numbers in
//! the model's range), and known-bad variants of every seed must be refused.

use netbalance::io::parse_json;
use netbalance::model::{parse_load_stream, Costs, Placement, Testbed, Topology};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "-1",
    "1e999",
    "NaN",
    "0.0",
    "\"h0-v0\"",
    "\"a\"",
    "\\u0000",
    "\n",
    "\"vm_of\"",
    "\"hosts\"",
    "\"vnodes\"",
    "\"links\"",
    "\"mbps\"",
    "\"rate\"",
    "[",
    "\"$(reboot)\"",
    "\u{00e9}",
    "\u{1F600}",
    "graph",
    "node",
    "edge",
    "id",
    "source",
    "target",
    "<",
    ">",
    "</",
    "=",
    "#",
    " ",
    "\t",
    "99999999999999999999",
];

fn cases() -> usize {
    std::env::var("NETBALANCE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Mutate a seed document: flip, delete, duplicate or insert bytes and tokens.
fn mutate(rng: &mut ChaCha8Rng, seed: &str) -> String {
    let mut s: Vec<u8> = seed.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..8) {
        let pos = if s.is_empty() { 0 } else { rng.gen_range(0..=s.len()) };
        match rng.gen_range(0..6) {
            0 if !s.is_empty() && pos < s.len() => s[pos] = rng.gen(),
            1 if pos < s.len() => {
                let end = (pos + rng.gen_range(1..16)).min(s.len());
                s.drain(pos..end);
            }
            2 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                s.splice(pos..pos, t.iter().copied());
            }
            3 if pos < s.len() => {
                let end = (pos + rng.gen_range(1..32)).min(s.len());
                let chunk: Vec<u8> = s[pos..end].to_vec();
                s.splice(pos..pos, chunk);
            }
            4 => s.truncate(pos),
            _ => {
                let depth = rng.gen_range(1..200);
                let open: Vec<u8> = std::iter::repeat(b'[').take(depth).collect();
                s.splice(pos..pos, open);
            }
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn random_text(rng: &mut ChaCha8Rng) -> String {
    (0..rng.gen_range(0..40))
        .map(|_| TOKENS[rng.gen_range(0..TOKENS.len())])
        .collect()
}

/// What an accepted JSON document must be, checked without the parser
/// under test: one document per text (per line for NDJSON), no key twice in
/// an object, every array element an object (the model has no other
/// arrays), every number finite and at most `max_number` in magnitude.
#[derive(Clone, Copy)]
pub struct Oracle {
    pub ndjson: bool,
    pub max_number: Option<f64>,
}

impl Oracle {
    fn check(&self, input: &str) -> Result<(), String> {
        let docs: Vec<&str> = if self.ndjson {
            input.lines().filter(|l| !l.trim().is_empty()).collect()
        } else {
            vec![input]
        };
        for doc in docs {
            let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
            let mut de = serde_json::Deserializer::from_str(doc);
            let shape = <Shape as serde::Deserialize>::deserialize(&mut de).map_err(|e| e.to_string())?;
            de.end().map_err(|e| format!("trailing text: {e}"))?;
            shape.check(self.max_number, false)?;
        }
        Ok(())
    }
}

/// A JSON value as the oracle sees it (keys kept in order, duplicates too).
enum Shape {
    Number(f64),
    Other,
    Array(Vec<Shape>),
    Object(Vec<(String, Shape)>),
}

impl Shape {
    fn check(&self, max: Option<f64>, in_array: bool) -> Result<(), String> {
        match self {
            Shape::Number(v) => match max {
                Some(m) if !(v.is_finite() && v.abs() <= m) => Err(format!("number {v} out of range")),
                _ if in_array => Err("a number as an array element".into()),
                _ => Ok(()),
            },
            Shape::Other if in_array => Err("a scalar as an array element".into()),
            Shape::Other => Ok(()),
            Shape::Array(items) => {
                if in_array {
                    return Err("an array in an array (array form of an object?)".into());
                }
                items.iter().try_for_each(|i| i.check(max, true))
            }
            Shape::Object(fields) => {
                let mut seen = std::collections::HashSet::new();
                for (k, v) in fields {
                    if !seen.insert(k) {
                        return Err(format!("duplicate key {k:?}"));
                    }
                    v.check(max, false)?;
                }
                Ok(())
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Shape, E> {
                Ok(Shape::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Shape, E> {
                Ok(Shape::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Shape, E> {
                Ok(Shape::Number(v))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = a.next_element()? {
                    items.push(x);
                }
                Ok(Shape::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Shape>()? {
                    fields.push((k, v));
                }
                Ok(Shape::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

/// Variants of a seed that must be refused: written twice, a key repeated,
/// the top object in array form, a number out of range.
fn bad_variants(seed: &str, oracle: Oracle) -> Vec<String> {
    let mut out = Vec::new();
    let first_line = seed.lines().next().unwrap_or(seed);
    let body = if oracle.ndjson { first_line } else { seed };
    out.push(format!("{body}{body}"));
    out.push(format!("{body}GARBAGE{{{{"));
    if let Some(rest) = body.strip_prefix('{') {
        // The first key repeated: {"k":v, ... } -> {"k":v,"k":v, ...}
        let mut de = serde_json::Deserializer::from_str(body).into_iter::<serde_json::Value>();
        if let Some(Ok(serde_json::Value::Object(map))) = de.next() {
            if let Some((k, v)) = map.iter().next() {
                out.push(format!("{{{}:{},{rest}", serde_json::to_string(k).unwrap(), v));
                let array: Vec<&serde_json::Value> = map.values().collect();
                out.push(serde_json::to_string(&array).unwrap());
            }
        }
    }
    if oracle.max_number.is_some() {
        for big in ["1.7e308", "1e13"] {
            let mut replaced = false;
            let mut s = String::new();
            for (i, part) in body.split(':').enumerate() {
                if i > 0 {
                    s.push(':');
                }
                let digits = part.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
                if !replaced && i > 0 && digits > 0 && !part.starts_with('0') {
                    s.push_str(big);
                    s.push_str(&part[digits..]);
                    replaced = true;
                } else {
                    s.push_str(part);
                }
            }
            if replaced {
                out.push(s);
            }
        }
    }
    out
}

/// [`fuzz`] with the oracle: every accepted input passes it, every bad
/// variant of a seed is refused, and some mutated inputs are refused.
pub fn fuzz_checked(name: &str, seeds: &[&str], oracle: Oracle, parse: impl Fn(&str) -> bool) -> usize {
    for seed in seeds {
        for bad in bad_variants(seed, oracle) {
            assert!(
                oracle.check(&bad).is_err() || !parse(&bad),
                "{name}: oracle and parser both pass {bad:?}"
            );
            assert!(!parse(&bad), "{name}: a bad variant was accepted: {bad:?}");
        }
    }
    let accepted = fuzz(name, seeds, |s| {
        let ok = parse(s);
        if ok {
            if let Err(why) = oracle.check(s) {
                panic!("{name}: accepted a wrong input ({why}): {s:?}");
            }
        }
        ok
    });
    assert!(accepted < cases(), "{name}: every mutated input was accepted");
    accepted
}

/// Run `parse` on `cases()` inputs derived from `seeds`; fail on a panic or
/// an input slower than a second. Returns how many inputs were accepted.
pub fn fuzz(name: &str, seeds: &[&str], parse: impl Fn(&str) -> bool) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed ^ name.len() as u64);
    let mut accepted = 0;
    for seed in seeds {
        assert!(parse(seed), "{name}: a seed must parse: {seed}");
    }
    for i in 0..cases() {
        let input = if i % 5 == 4 {
            random_text(&mut rng)
        } else {
            mutate(&mut rng, seeds[i % seeds.len()])
        };
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| parse(&input)));
        let took = start.elapsed();
        match result {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name}: panicked on input {input:?}: {msg}")
            }
        }
        assert!(took < Duration::from_secs(1), "{name}: {took:?} on input {input:?}");
    }
    accepted
}

const TESTBED: &str = r#"{"hosts":[{"name":"h0","nic_mbps":1000,"vms":[{"name":"h0-v0","capacity":1.0,"ssh":"root@127.0.0.1:22"},{"name":"h0-v1"}]}],"costs":{"suspend_ms":6}}"#;
const TOPOLOGY: &str = r#"{"vnodes":[{"id":"a","memory_mb":10,"cpu":0.1,"run":"sleep 1"},{"id":"b"}],"links":[{"a":"a","b":"b","mbps":100,"delay_ms":1,"rate":5}]}"#;
const PLACEMENT: &str =
    r#"{"vm_of":{"a":"h0-v0","b":"h0-v1"},"tau":0.5,"chi":-1,"topology":"t.json","testbed":"tb.json"}"#;
const LOADS: &str = "{\"t\":1,\"cpu\":{\"a\":0.5},\"mbps\":[{\"a\":\"a\",\"b\":\"b\",\"rate\":3}]}\n{\"t\":2}\n";
const COSTS: &str =
    r#"{"cpu_per_mbit":{"vm":1e-5,"host":4e-5,"net":8e-5},"transfer_ms_per_mb":{"host":1,"net":2},"source":"x"}"#;

#[test]
fn fuzz_testbed_json() {
    fuzz_checked(
        "testbed",
        &[TESTBED],
        Oracle {
            ndjson: false,
            max_number: Some(1e12),
        },
        |s| parse_json::<Testbed>(s, "f").and_then(|t| t.validate("f")).is_ok(),
    );
}

#[test]
fn fuzz_topology_json() {
    fuzz_checked(
        "topology",
        &[TOPOLOGY],
        Oracle {
            ndjson: false,
            max_number: Some(1e12),
        },
        |s| parse_json::<Topology>(s, "f").and_then(|t| t.validate("f")).is_ok(),
    );
}

#[test]
fn fuzz_placement_json() {
    let topo: Topology = parse_json(TOPOLOGY, "t").unwrap();
    let tb: Testbed = parse_json(TESTBED, "tb").unwrap();
    let oracle = Oracle {
        ndjson: false,
        max_number: None,
    };
    fuzz_checked("placement", &[PLACEMENT], oracle, |s| {
        parse_json::<Placement>(s, "f")
            .and_then(|p| p.validate("f", &topo, &tb))
            .is_ok()
    });
}

#[test]
fn fuzz_load_stream() {
    let oracle = Oracle {
        ndjson: true,
        max_number: Some(1e12),
    };
    fuzz_checked("loads", &[LOADS], oracle, |s| parse_load_stream(s, "f").is_ok());
}

#[test]
fn fuzz_costs_profile() {
    fuzz_checked(
        "costs",
        &[COSTS],
        Oracle {
            ndjson: false,
            max_number: Some(1e12),
        },
        |s| parse_json::<Costs>(s, "f").map(|c| c.check().is_ok()).unwrap_or(false),
    );
}

/// The topology importers, each on its own format and on format detection.
fn fuzz_importer(name: &str, seed: &str, format: netbalance::topology::Format) {
    use netbalance::topology::parse_topology;
    fuzz(name, &[seed], |s| parse_topology(s, "f", None, Some(format)).is_ok());
    fuzz(&format!("{name} (detected)"), &[seed], |s| {
        parse_topology(s, "f", None, None).is_ok()
    });
}

const GML: &str = "# c\ngraph [\n  directed 0\n  node [ id 0 label \"New York\" ]\n  node [ id 1 label \"AT&amp;T\" ]\n  node [ id 2 ]\n  edge [ source 0 target 1 LinkSpeed \"10\" LinkSpeedUnits \"G\" LinkSpeedRaw 1e10 ]\n  edge [ source 2 target 1 ]\n]\n";
const GRAPHML: &str = "<?xml version=\"1.0\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n<key attr.name=\"label\" for=\"node\" id=\"d0\"/><key attr.name=\"LinkSpeedRaw\" for=\"edge\" id=\"d1\"/>\n<graph edgedefault=\"undirected\">\n<node id=\"0\"><data key=\"d0\">A b</data></node><node id=\"1\"/>\n<edge source=\"0\" target=\"1\"><data key=\"d1\">1e9</data></edge>\n</graph>\n</graphml>\n";
const NODE_LINK: &str = r#"{"directed":false,"multigraph":false,"graph":{},"nodes":[{"id":0,"name":"A"},{"id":"x"}],"links":[{"source":0,"target":"x","LinkSpeedRaw":1e8}]}"#;
const EDGE_LIST: &str = "# a b [mbps]\na b 100\nb c\nd\n";

#[test]
fn fuzz_gml() {
    fuzz_importer("gml", GML, netbalance::topology::Format::Gml);
}

#[test]
fn fuzz_graphml() {
    fuzz_importer("graphml", GRAPHML, netbalance::topology::Format::Graphml);
}

#[test]
fn fuzz_node_link() {
    fuzz_importer("node-link", NODE_LINK, netbalance::topology::Format::NodeLink);
}

#[test]
fn fuzz_edge_list() {
    fuzz_importer("edge list", EDGE_LIST, netbalance::topology::Format::EdgeList);
}

/// The state dir's journal and placement in force: seeds written by the
/// real code, then mutated files read back (torn, edited, garbage).
#[test]
fn fuzz_state_journal_and_placement() {
    use netbalance::state::journal::{PlannedMove, RunKind};
    use netbalance::state::StateDir;
    // on tmpfs where there is one: the journal fsyncs what it repairs
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let state = StateDir::open(dir.path()).unwrap();
    let from: Placement = parse_json(PLACEMENT, "p").unwrap();
    let mut to = from.clone();
    to.vm_of.insert("a".into(), "h0-v1".into());
    let mut journal = state.journal().unwrap();
    journal
        .begin(
            RunKind::Migrate,
            Some(&from),
            Some(&to),
            vec![PlannedMove {
                vnode: "a".into(),
                from: "h0-v0".into(),
                to: "h0-v1".into(),
            }],
        )
        .unwrap();
    drop(journal);
    state.set_placement(&to).unwrap();
    let journal_seed = std::fs::read_to_string(state.journal_path()).unwrap();
    let placement_seed = std::fs::read_to_string(state.placement_path()).unwrap();
    let sums = std::fs::read(state.sum_path()).unwrap();

    fuzz("journal", &[&journal_seed], |s| {
        std::fs::write(state.journal_path(), s).unwrap();
        state.journal().is_ok()
    });
    fuzz("placement in force", &[&placement_seed], |s| {
        std::fs::write(state.placement_path(), s).unwrap();
        std::fs::write(state.sum_path(), &sums).unwrap();
        state.placement().is_ok()
    });
}
