//! containerlab topology files (`*.clab.yml`): `topology.nodes` (a map of
//! node name → settings) and `topology.links`, each with `endpoints:
//! ["a:eth1", "b:eth1"]` (or the newer `endpoints: [{node: a, interface:
//! eth1}, …]`). Read with `serde_yaml_ng`.

use super::build::{Attributes, GraphBuilder};
use crate::error::{Error, Location, Result};
use crate::model::Topology;
use serde_yaml_ng::Value;

/// Endpoint names containerlab gives a meaning of its own (the container
/// host, the management network, macvlan/vxlan uplinks): not nodes of the
/// topology, so links to them are left out.
const SPECIAL_ENDPOINTS: [&str; 6] = ["host", "mgmt-net", "macvlan", "vxlan", "vxlan-stitch", "dummy"];

/// True when the text is a YAML mapping with a `topology:` key (the
/// containerlab shape); used by format detection.
pub(super) fn looks_like_containerlab(text: &str) -> bool {
    text.lines()
        .any(|l| l.trim_end() == "topology:" || l.starts_with("topology:"))
        && matches!(serde_yaml_ng::from_str::<Value>(text), Ok(Value::Mapping(ref m)) if m.contains_key("topology"))
}

/// True when the text reads as a YAML mapping (`key: value` at the top).
pub(super) fn looks_like_yaml_mapping(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let keyish = first.is_some_and(|l| {
        l == "---"
            || l.split_once(':')
                .is_some_and(|(k, v)| !k.contains(char::is_whitespace) && (v.is_empty() || v.starts_with(' ')))
    });
    keyish && matches!(serde_yaml_ng::from_str::<Value>(text), Ok(Value::Mapping(_)))
}

/// Import a containerlab topology. Node names become vnode ids (sanitized,
/// kept unique); links to containerlab's special endpoints (`host`,
/// `mgmt-net`, `macvlan`, …) are dropped; several links between one pair
/// of nodes merge into one (bandwidths add). Kinds, images and interface
/// names are not used: every vnode and link gets the defaults.
///
/// ```text
/// name: srl01
/// topology:
///   nodes:
///     srl: {kind: nokia_srlinux}
///     ceos: {kind: ceos}
///   links:
///     - endpoints: ["srl:e1-1", "ceos:eth1"]
/// ```
/// Complexity: O(length of the text + nodes + links).
pub(super) fn import(text: &str, file: &str, defaults: Attributes) -> Result<Topology> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let mut at = Location::file(file);
        if let Some(l) = e.location() {
            at = at.at_line(l.line());
            at.column = Some(l.column());
        }
        Error::input(at, format!("not valid YAML: {e}"))
    })?;
    let at = |path: &str, msg: String| Error::input(Location::file(file).at_path(path), msg);
    let topo = doc
        .get("topology")
        .and_then(Value::as_mapping)
        .ok_or_else(|| at("topology", "expected a `topology:` mapping (containerlab)".into()))?;
    let nodes = match topo.get("nodes") {
        Some(Value::Mapping(m)) => m,
        Some(Value::Null) | None => {
            return Err(at("topology.nodes", "expected a mapping of node names".into()));
        }
        Some(_) => return Err(at("topology.nodes", "expected a mapping of node names".into())),
    };
    let mut g = GraphBuilder::default();
    for (name, _) in nodes {
        let name = scalar(name).ok_or_else(|| at("topology.nodes", format!("node name {name:?} is not a string")))?;
        g.add_node(&name, None)
            .map_err(|m| at(&format!("topology.nodes.{name}"), m))?;
    }
    let links: &[Value] = match topo.get("links") {
        None | Some(Value::Null) => &[],
        Some(Value::Sequence(s)) => s,
        Some(_) => return Err(at("topology.links", "expected a list of links".into())),
    };
    for (i, link) in links.iter().enumerate() {
        let path = format!("topology.links[{i}].endpoints");
        let ends = link
            .get("endpoints")
            .and_then(Value::as_sequence)
            .ok_or_else(|| at(&path, "link without `endpoints: [\"a:eth1\", \"b:eth1\"]`".into()))?;
        let mut nodes_of = Vec::with_capacity(2);
        for (j, end) in ends.iter().enumerate() {
            let node = endpoint_node(end).ok_or_else(|| {
                at(
                    &format!("{path}[{j}]"),
                    format!("expected \"node:interface\", found {}", show(end)),
                )
            })?;
            nodes_of.push(node);
        }
        if nodes_of.len() != 2 {
            return Err(at(&path, format!("expected 2 endpoints, found {}", nodes_of.len())));
        }
        if nodes_of
            .iter()
            .any(|n| SPECIAL_ENDPOINTS.contains(&n.as_str()) && g.node(n).is_none())
        {
            continue;
        }
        let mut ends = [0usize; 2];
        for (j, n) in nodes_of.iter().enumerate() {
            ends[j] = g.node(n).ok_or_else(|| {
                at(
                    &format!("{path}[{j}]"),
                    format!("{n:?} is not a node of topology.nodes"),
                )
            })?;
        }
        g.add_edge(ends[0], ends[1], None);
    }
    let topo = g.finish(defaults);
    if topo.vnodes.is_empty() {
        return Err(at("topology.nodes", "no nodes".into()));
    }
    Ok(topo)
}

/// The node of an endpoint: `"a:eth1"` or `{node: a, interface: eth1}`.
fn endpoint_node(end: &Value) -> Option<String> {
    match end {
        Value::String(s) => s.split_once(':').map(|(n, _)| n.to_string()).filter(|n| !n.is_empty()),
        Value::Mapping(_) => end.get("node").and_then(scalar),
        _ => None,
    }
}

/// A YAML value as a user wrote it, for messages.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        _ => serde_yaml_ng::to_string(v)
            .map(|s| s.trim().replace('\n', " "))
            .unwrap_or_default(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "name: srlceos01\n\ntopology:\n  kinds:\n    nokia_srlinux: {image: ghcr.io/nokia/srlinux}\n  nodes:\n    srl:\n      kind: nokia_srlinux\n    ceos:\n      kind: ceos\n    client-1:\n      kind: linux\n  links:\n    - endpoints: [\"srl:e1-1\", \"ceos:eth1\"]\n    - endpoints: [\"srl:e1-2\", \"ceos:eth2\"]\n    - endpoints:\n        - node: client-1\n          interface: eth1\n        - node: srl\n          interface: e1-3\n    - endpoints: [\"ceos:eth3\", \"host:ceos-eth3\"]\n";

    #[test]
    fn reads_nodes_and_both_endpoint_forms() {
        let t = import(LAB, "lab.clab.yml", Attributes::default()).unwrap();
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["srl", "ceos", "client-1"]);
        let links: Vec<_> = t.links.iter().map(|l| (l.a.as_str(), l.b.as_str(), l.mbps)).collect();
        // two srl–ceos links merge (bandwidths add); the host link is dropped
        assert_eq!(links, [("srl", "ceos", 2000.0), ("client-1", "srl", 1000.0)]);
        assert!(looks_like_containerlab(LAB));
    }

    #[test]
    fn errors_name_the_yaml_path() {
        let err = |text| import(text, "l.yml", Attributes::default()).unwrap_err().to_string();
        assert_eq!(
            err("topology:\n  nodes: {a: {}}\n  links:\n    - endpoints: [\"a:e1\", \"b:e1\"]\n"),
            "l.yml: topology.links[0].endpoints[1]: \"b\" is not a node of topology.nodes"
        );
        assert_eq!(
            err("name: x\n"),
            "l.yml: topology: expected a `topology:` mapping (containerlab)"
        );
        assert_eq!(
            err("topology:\n  nodes: {a: {}}\n  links:\n    - endpoints: [\"a\"]\n"),
            "l.yml: topology.links[0].endpoints[0]: expected \"node:interface\", found \"a\""
        );
        assert!(err("topology: [\n").starts_with("l.yml:"), "{}", err("topology: [\n"));
    }
}
