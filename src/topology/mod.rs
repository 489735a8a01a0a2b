//! Topologies: reading files in any supported format (netbalance JSON,
//! Topology Zoo GML and GraphML, networkx node-link JSON, edge lists,
//! containerlab YAML), generators and summary statistics.

pub mod build;
mod containerlab;
mod edge_list;
pub mod generate;
mod gml;
mod graphml;
mod node_link;
pub mod stats;

use crate::error::{Error, Location, Result};
use crate::io::{parse_json, Source};
use crate::model::Topology;
pub use build::Attributes;

/// A topology file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// netbalance's own JSON (model §1)
    Json,
    /// Graph Modelling Language, as the Internet Topology Zoo writes it
    Gml,
    /// GraphML (XML), as the Internet Topology Zoo writes it
    Graphml,
    /// networkx node-link JSON (`nodes` and `links`/`edges`), e.g. topohub's files
    NodeLink,
    /// One link per line: `a b [mbps]`; `#` starts a comment
    EdgeList,
    /// containerlab topology YAML (`topology.nodes`, `topology.links` with `endpoints`)
    Containerlab,
}

/// The names `--format` takes, for messages.
pub const FORMAT_NAMES: &str = "json, gml, graphml, node-link, edge-list, containerlab";

impl Format {
    /// The format of a file: by extension where it is telling, else by
    /// content. Content that fits no format is refused with what it looked
    /// like (`Err`), never guessed: a YAML file is not an edge list.
    ///
    /// ```
    /// use netbalance::topology::Format;
    /// use std::path::Path;
    /// assert_eq!(Format::detect(Some(Path::new("Abilene.gml")), ""), Ok(Format::Gml));
    /// assert_eq!(Format::detect(Some(Path::new("lab.clab.yml")), ""), Ok(Format::Containerlab));
    /// assert_eq!(Format::detect(None, "{\"nodes\":[], \"links\":[]}"), Ok(Format::NodeLink));
    /// assert_eq!(Format::detect(None, "{\"vnodes\":[]}"), Ok(Format::Json));
    /// assert_eq!(Format::detect(None, "<?xml version=\"1.0\"?><graphml/>"), Ok(Format::Graphml));
    /// assert_eq!(Format::detect(None, "graph [\n node [ id 0 ]\n]"), Ok(Format::Gml));
    /// assert_eq!(Format::detect(None, "topology:\n  nodes: {a: {}}\n"), Ok(Format::Containerlab));
    /// assert_eq!(Format::detect(None, "a b 100\n"), Ok(Format::EdgeList));
    /// assert_eq!(Format::detect(None, " \n"), Ok(Format::Json)); // "empty input"
    /// assert!(Format::detect(None, "vnodes: []\n").unwrap_err().contains("YAML"));
    /// ```
    /// Complexity: O(length of the text) (JSON and YAML are parsed to look at their keys).
    pub fn detect(path: Option<&std::path::Path>, text: &str) -> std::result::Result<Format, String> {
        let ext = path
            .and_then(|p| p.extension())
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("gml") => return Ok(Format::Gml),
            Some("graphml") | Some("xml") => return Ok(Format::Graphml),
            Some("edges") | Some("edgelist") | Some("el") => return Ok(Format::EdgeList),
            Some("yml") | Some("yaml") => return Ok(Format::Containerlab),
            _ => {}
        }
        let body = text.trim_start_matches('\u{feff}').trim_start();
        if body.is_empty() || body.starts_with('[') {
            // Nothing, or a JSON array: the JSON reader names the fault best.
            return Ok(Format::Json);
        }
        if body.starts_with('{') {
            // Only the top-level keys are kept (values skipped): a full
            // `Value` of a large topology cost more memory than the topology.
            return Ok(match serde_json::from_str::<TopKeys>(body) {
                Ok(TopKeys(keys)) if !keys.iter().any(|k| k == "vnodes") && keys.iter().any(|k| k == "nodes") => {
                    Format::NodeLink
                }
                _ => Format::Json,
            });
        }
        if body.starts_with('<') {
            return Ok(Format::Graphml);
        }
        if gml::looks_like_gml(body) {
            return Ok(Format::Gml);
        }
        if containerlab::looks_like_containerlab(body) {
            return Ok(Format::Containerlab);
        }
        if containerlab::looks_like_yaml_mapping(body) {
            return Err("it looks like YAML (`key: value`) but has no containerlab `topology:` section".into());
        }
        edge_list::unlike_edge_list(body).map_or(Ok(Format::EdgeList), Err)
    }
}

/// The top-level keys of a JSON object, its values skipped.
struct TopKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<TopKeys, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TopKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, serde::de::IgnoredAny)) = a.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(TopKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// Read a topology file, detecting its format, and validate it.
pub fn read_topology(source: &Source) -> Result<Topology> {
    read_topology_as(source, None)
}

/// Read a topology in the given format (None: detect it) and validate it.
/// Imported vnodes and links get [`Attributes::default`] where the file
/// gives nothing better (GML and GraphML link speeds are read).
pub fn read_topology_as(source: &Source, format: Option<Format>) -> Result<Topology> {
    let text = source.read_to_string()?;
    parse_topology(&text, &source.name(), source.path(), format)
}

/// Parse and validate a topology from text; `name` is used in errors,
/// `path` (its extension) and the content decide the format if `format` is None.
///
/// ```
/// use netbalance::topology::parse_topology;
/// let t = parse_topology("a b 100\nb c\n", "links.txt", None, None).unwrap();
/// assert_eq!((t.vnodes.len(), t.links.len()), (3, 2));
/// let err = parse_topology("graph [ node [ id 0 ]", "x.gml", None, None).unwrap_err();
/// assert_eq!(err.to_string(), "x.gml:1: list `graph [` opened here is never closed");
/// ```
/// Complexity: linear in the text, plus validation (O(n + m) expected).
pub fn parse_topology(
    text: &str,
    name: &str,
    path: Option<&std::path::Path>,
    format: Option<Format>,
) -> Result<Topology> {
    let shown = if name == "<stdin>" { "-" } else { name };
    let format = match format {
        Some(f) => f,
        None => Format::detect(path, text).map_err(|seen| {
            Error::input(
                crate::error::Location::file(name),
                format!(
                    "not a topology format netbalance can tell: {seen}; name the format with \
                     `netbalance topology import --format F {shown} > topology.json` (F: {FORMAT_NAMES})"
                ),
            )
        })?,
    };
    let defaults = Attributes::default();
    let topo = match format {
        Format::Json => parse_json(text, name)?,
        Format::Gml => gml::import(text, name, defaults)?,
        Format::Graphml => graphml::import(text, name, defaults)?,
        Format::NodeLink => node_link::import(text, name, defaults)?,
        Format::EdgeList => edge_list::import(text, name, defaults)?,
        Format::Containerlab => containerlab::import(text, name, defaults)?,
    };
    topo.validate(name)?;
    // One rule for every command that reads a topology (simulate, cost,
    // place, migrate, balance, topology import): it has vnodes.
    if topo.vnodes.is_empty() {
        return Err(Error::input(
            Location::file(name).at_path("vnodes"),
            "a topology needs at least one vnode",
        ));
    }
    Ok(topo)
}

/// `--topology` for commands that also take the paper's names (model §6:
/// `--topology grid|waxman|campus|internet|FILE`): an existing file is
/// read; else one of [`generate::PAPER_NAMES`] is generated with `seed`;
/// else the path is read (and its absence reported).
///
/// ```
/// use netbalance::topology::paper_or_file;
/// let t = paper_or_file(std::path::Path::new("internet"), 1).unwrap();
/// assert_eq!(t.vnodes.len(), 2113);
/// assert!(paper_or_file(std::path::Path::new("no-such-file.gml"), 1).is_err());
/// ```
/// Complexity: that of the generator or the reader.
pub fn paper_or_file(arg: &std::path::Path, seed: u64) -> Result<Topology> {
    let name = arg
        .to_str()
        .filter(|n| generate::PAPER_NAMES.contains(n) && !arg.exists());
    match name.and_then(|n| generate::paper(n, seed)) {
        Some(t) => Ok(t),
        None => read_topology(&Source::from_arg(arg)),
    }
}

/// Link speed from Topology Zoo attributes: `LinkSpeedRaw` (bit/s), else
/// `LinkSpeed` scaled by `LinkSpeedUnits` (K, M, G, T; default M).
pub(crate) fn zoo_speed_mbps(raw_bps: Option<f64>, speed: Option<f64>, units: Option<&str>) -> Option<f64> {
    if let Some(bps) = raw_bps.filter(|v| v.is_finite() && *v > 0.0) {
        return Some(bps / 1e6);
    }
    let factor = match units.map(|u| u.trim().to_ascii_uppercase()).as_deref() {
        Some("K") => 1e-3,
        None | Some("") | Some("M") => 1.0,
        Some("G") => 1e3,
        Some("T") => 1e6,
        Some(_) => return None,
    };
    speed.filter(|v| v.is_finite() && *v > 0.0).map(|s| s * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    /// The same topology written in each importable format (test-only writers).
    fn written(t: &Topology) -> Vec<(Format, String)> {
        let index = t.index();
        let mut gml = String::from("graph [\n");
        let mut graphml = String::from("<graphml><key id=\"l\" for=\"node\" attr.name=\"label\"/><key id=\"s\" for=\"edge\" attr.name=\"LinkSpeedRaw\"/><graph>\n");
        let mut edges = String::new();
        for (i, n) in t.vnodes.iter().enumerate() {
            let _ = writeln!(gml, "node [ id {i} label \"{}\" ]", n.id);
            let _ = writeln!(graphml, "<node id=\"{i}\"><data key=\"l\">{}</data></node>", n.id);
            let _ = writeln!(edges, "{}", n.id);
        }
        for l in &t.links {
            let (a, b) = (index[l.a.as_str()], index[l.b.as_str()]);
            let _ = writeln!(gml, "edge [ source {a} target {b} LinkSpeedRaw {} ]", l.mbps * 1e6);
            let _ = writeln!(
                graphml,
                "<edge source=\"{a}\" target=\"{b}\"><data key=\"s\">{}</data></edge>",
                l.mbps * 1e6
            );
            let _ = writeln!(edges, "{} {} {}", l.a, l.b, l.mbps);
        }
        gml.push_str("]\n");
        graphml.push_str("</graph></graphml>\n");
        let node_link = serde_json::json!({
            "directed": false, "multigraph": false, "graph": {},
            "nodes": t.vnodes.iter().map(|n| serde_json::json!({"id": n.id})).collect::<Vec<_>>(),
            "links": t.links.iter().map(|l| serde_json::json!({"source": l.a, "target": l.b, "LinkSpeedRaw": l.mbps * 1e6})).collect::<Vec<_>>(),
        });
        vec![
            (Format::Gml, gml),
            (Format::Graphml, graphml),
            (Format::NodeLink, node_link.to_string()),
            (Format::EdgeList, edges),
            (Format::Json, serde_json::to_string(t).unwrap()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Every format, detected from its content, gives back the topology
        /// (valid ids survive sanitizing unchanged; speeds in whole Mbit/s).
        #[test]
        fn every_format_round_trips(n in 1usize..60, seed in any::<u64>(), mbps in 1u32..100_000) {
            let mut t = generate::internet(n, seed);
            for l in &mut t.links {
                l.mbps = f64::from(mbps);
            }
            for (format, text) in written(&t) {
                prop_assert_eq!(Format::detect(None, &text), Ok(format));
                let back = parse_topology(&text, "t", None, None).unwrap();
                prop_assert_eq!(&back, &t, "{:?}", format);
            }
        }
    }
}
