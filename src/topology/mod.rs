//! Topologies: reading files in any supported format (netbalance JSON,
//! Topology Zoo GML and GraphML, networkx node-link JSON, edge lists),
//! generators and summary statistics.

pub mod build;
mod edge_list;
pub mod generate;
mod gml;
mod graphml;
mod node_link;
pub mod stats;

use crate::error::Result;
use crate::io::{parse_json, Source};
use crate::model::Topology;
pub use build::Attributes;

/// A topology file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// netbalance's own JSON (SPEC §1)
    Json,
    /// Graph Modelling Language, as the Internet Topology Zoo writes it
    Gml,
    /// GraphML (XML), as the Internet Topology Zoo writes it
    Graphml,
    /// networkx node-link JSON (`nodes` and `links`/`edges`), e.g. topohub's files
    NodeLink,
    /// One link per line: `a b [mbps]`; `#` starts a comment
    EdgeList,
}

impl Format {
    /// The format of a file: by extension where it is telling, else by content.
    ///
    /// ```
    /// use netbalance::topology::Format;
    /// use std::path::Path;
    /// assert_eq!(Format::detect(Some(Path::new("Abilene.gml")), ""), Format::Gml);
    /// assert_eq!(Format::detect(None, "{\"nodes\":[], \"links\":[]}"), Format::NodeLink);
    /// assert_eq!(Format::detect(None, "{\"vnodes\":[]}"), Format::Json);
    /// assert_eq!(Format::detect(None, "<?xml version=\"1.0\"?><graphml/>"), Format::Graphml);
    /// assert_eq!(Format::detect(None, "graph [\n node [ id 0 ]\n]"), Format::Gml);
    /// assert_eq!(Format::detect(None, "a b 100\n"), Format::EdgeList);
    /// ```
    /// Complexity: O(length of the text) (JSON is parsed to look at its keys).
    pub fn detect(path: Option<&std::path::Path>, text: &str) -> Format {
        let ext = path.and_then(|p| p.extension()).map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("gml") => return Format::Gml,
            Some("graphml") | Some("xml") => return Format::Graphml,
            Some("edges") | Some("edgelist") | Some("el") => return Format::EdgeList,
            _ => {}
        }
        let body = text.trim_start_matches('\u{feff}').trim_start();
        if body.starts_with('{') {
            return match serde_json::from_str::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(o)) if !o.contains_key("vnodes") && o.contains_key("nodes") => Format::NodeLink,
                _ => Format::Json,
            };
        }
        if body.starts_with('<') {
            return Format::Graphml;
        }
        if gml::looks_like_gml(body) {
            return Format::Gml;
        }
        Format::EdgeList
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
    let name = source.name();
    let format = format.unwrap_or_else(|| Format::detect(source.path(), &text));
    let defaults = Attributes::default();
    let topo = match format {
        Format::Json => parse_json(&text, &name)?,
        Format::Gml => gml::import(&text, &name, defaults)?,
        Format::Graphml => graphml::import(&text, &name, defaults)?,
        Format::NodeLink => node_link::import(&text, &name, defaults)?,
        Format::EdgeList => edge_list::import(&text, &name, defaults)?,
    };
    topo.validate(&name)?;
    Ok(topo)
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
