//! networkx node-link JSON (`networkx.node_link_data`, the format of the
//! `topohub` package's Topology Zoo, SNDlib and CAIDA files).

use super::build::{Attributes, GraphBuilder};
use crate::error::{Error, Location, Result};
use crate::io::parse_json;
use crate::model::Topology;
use serde_json::Value;

/// Import `{"nodes":[{"id":…}], "links"|"edges":[{"source":…,"target":…}]}`.
/// Ids may be strings or numbers (any JSON value, in fact); link ends
/// that are numbers while every node id is a string are positions in
/// `nodes` (networkx 1.x, d3). A node's
/// `label` or `name` (else its id), sanitized, becomes its vnode id.
/// Direction and multi-edges are dropped (parallel links merge).
/// `LinkSpeedRaw` (bit/s) or `LinkSpeed` + `LinkSpeedUnits` give Mbit/s.
///
/// Complexity: O(length of the text + nodes + links).
pub(super) fn import(text: &str, file: &str, defaults: Attributes) -> Result<Topology> {
    let doc: Value = parse_json(text, file)?;
    let at = |path: String, msg: String| Error::input(Location::file(file).at_path(path), msg);
    let nodes = doc
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| at("nodes".into(), "expected an array of nodes".into()))?;
    let (links_key, links) = match (doc.get("links"), doc.get("edges")) {
        (Some(l), _) => ("links", l),
        (None, Some(e)) => ("edges", e),
        (None, None) => ("links", &Value::Null),
    };
    let links: &[Value] = match links {
        Value::Null => &[],
        Value::Array(a) => a,
        _ => return Err(at(links_key.into(), "expected an array of links".into())),
    };
    let mut g = GraphBuilder::default();
    for (i, node) in nodes.iter().enumerate() {
        let id = node
            .get("id")
            .map(key)
            .ok_or_else(|| at(format!("nodes[{i}]"), "node without an \"id\"".into()))?;
        let label = ["label", "name"]
            .iter()
            .find_map(|k| node.get(*k).and_then(Value::as_str));
        g.add_node(&id, label).map_err(|m| at(format!("nodes[{i}].id"), m))?;
    }
    // networkx 1.x and d3 name link ends by their position in "nodes": read
    // a number as a position when no node has a numeric id.
    let by_position = nodes.iter().all(|n| n.get("id").is_some_and(Value::is_string));
    for (i, link) in links.iter().enumerate() {
        let end = |name: &str| {
            let path = format!("{links_key}[{i}].{name}");
            let v = link
                .get(name)
                .ok_or_else(|| at(path.clone(), format!("link without a \"{name}\"")))?;
            if let Some(p) = v.as_u64().filter(|&p| by_position && p < nodes.len() as u64) {
                return Ok(p as usize);
            }
            let k = key(v);
            g.node(&k).ok_or_else(|| at(path, format!("{k} is not a node id")))
        };
        let (a, b) = (end("source")?, end("target")?);
        let number = |k: &str| {
            link.get(k)
                .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
        };
        let mbps = super::zoo_speed_mbps(
            number("LinkSpeedRaw"),
            number("LinkSpeed"),
            link.get("LinkSpeedUnits").and_then(Value::as_str),
        );
        g.add_edge(a, b, mbps);
    }
    Ok(g.finish(defaults))
}

/// A node id as a key: strings as they are, anything else as compact JSON.
fn key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import_str(text: &str) -> Result<Topology> {
        import(text, "t.json", Attributes::default())
    }

    #[test]
    fn reads_int_and_string_ids_and_both_link_keys() {
        let t = import_str(r#"{"directed":false,"multigraph":true,"graph":{},"nodes":[{"id":0,"name":"ATLA M5"},{"id":"x"},{"id":2,"label":"Z"}],
            "edges":[{"source":0,"target":"x","key":0},{"source":"x","target":0,"key":1,"LinkSpeedRaw":1e8},{"source":2,"target":0}]}"#)
        .unwrap();
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["ATLA_M5", "x", "Z"]);
        assert_eq!(t.links.len(), 2);
        assert_eq!(t.links[0].mbps, 1100.0);
        let t = import_str(r#"{"nodes":[{"id":"a"},{"id":"b"}],"links":[{"source":"a","target":"b"}]}"#).unwrap();
        assert_eq!(t.links.len(), 1);
        // networkx 1.x: ends by position when the ids are strings.
        let t = import_str(r#"{"nodes":[{"id":"a"},{"id":"b"},{"id":"c"}],"links":[{"source":2,"target":0},{"source":"b","target":2}]}"#).unwrap();
        let pairs: Vec<_> = t.links.iter().map(|l| (l.a.as_str(), l.b.as_str())).collect();
        assert_eq!(pairs, [("c", "a"), ("b", "c")]);
    }

    #[test]
    fn errors_name_the_json_path() {
        let cases = [
            (
                r#"{"nodes":[{"id":1},{"name":"b"}],"links":[]}"#,
                "t.json: nodes[1]: node without an \"id\"",
            ),
            (
                r#"{"nodes":[{"id":1}],"links":[{"source":1,"target":2}]}"#,
                "t.json: links[0].target: 2 is not a node id",
            ),
            (
                r#"{"nodes":[{"id":"a"}],"links":[{"source":0,"target":1}]}"#,
                "t.json: links[0].target: 1 is not a node id",
            ),
            (
                r#"{"nodes":[{"id":1}],"edges":[{"target":1}]}"#,
                "t.json: edges[0].source: link without a \"source\"",
            ),
            (
                r#"{"nodes":[{"id":1},{"id":1}]}"#,
                "t.json: nodes[1].id: duplicate node id \"1\"",
            ),
            (r#"{"nodes":{}}"#, "t.json: nodes: expected an array of nodes"),
            ("{\"nodes\":[\n{\"id\":1},\n]}", "t.json:3:1: nodes: trailing comma"),
        ];
        for (text, expected) in cases {
            assert_eq!(import_str(text).unwrap_err().to_string(), expected, "{text}");
        }
    }
}
