//! Topologies: reading files in any supported format, generators and importers.

use crate::error::Result;
use crate::io::{parse_json, Source};
use crate::model::Topology;

/// Read a topology file (netbalance JSON) and validate it.
pub fn read_topology(source: &Source) -> Result<Topology> {
    let text = source.read_to_string()?;
    let name = source.name();
    let topo: Topology = parse_json(&text, &name)?;
    topo.validate(&name)?;
    Ok(topo)
}
