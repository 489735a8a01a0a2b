//! GraphML (XML) import, for the subset the Internet Topology Zoo and
//! networkx write: `<key>` declarations, one `<graph>` of `<node>`s and
//! `<edge>`s with `<data>` children.

use super::build::{Attributes, GraphBuilder};
use crate::error::{Error, Location, Result};
use crate::model::Topology;
use roxmltree::{Document, Node};
use std::collections::HashMap;

/// Import a GraphML document. A node's id is its `label` (or `name`) data,
/// sanitized, else its `id` attribute; `LinkSpeedRaw` (bit/s) or
/// `LinkSpeed` + `LinkSpeedUnits` data give a link's Mbit/s. Nested graphs
/// and hyperedges are not read.
///
/// Complexity: O(length of the text + nodes + edges).
pub(super) fn import(text: &str, file: &str, defaults: Attributes) -> Result<Topology> {
    check_attribute_counts(text, file)?;
    let doc = Document::parse(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rfind(" at ").map_or(msg.clone(), |i| msg[..i].to_string());
        Error::input(
            Location::file(file).at_line(e.pos().row as usize),
            format!("not well-formed XML: {msg}"),
        )
    })?;
    let at = |node: Node, msg: String| {
        Error::input(
            Location::file(file).at_line(doc.text_pos_at(node.range().start).row as usize),
            msg,
        )
    };
    let root = doc.root_element();
    if root.tag_name().name() != "graphml" {
        return Err(at(
            root,
            format!("expected a <graphml> document, found <{}>", root.tag_name().name()),
        ));
    }
    // key id → attribute name, e.g. "d33" → "label".
    let names: HashMap<&str, &str> = root
        .children()
        .filter(|k| k.has_tag_name_local("key"))
        .filter_map(|k| {
            Some((
                k.attribute("id")?,
                k.attribute("attr.name").unwrap_or(k.attribute("id")?),
            ))
        })
        .collect();
    let graph = root
        .children()
        .find(|g| g.has_tag_name_local("graph"))
        .ok_or_else(|| at(root, "no <graph> element".into()))?;
    let mut g = GraphBuilder::default();
    for node in graph.children().filter(|n| n.has_tag_name_local("node")) {
        let id = node
            .attribute("id")
            .ok_or_else(|| at(node, "<node> without an id attribute".into()))?;
        let d = data_of(node, &names);
        let label = d.get("label").or_else(|| d.get("name")).copied();
        g.add_node(id, label).map_err(|m| at(node, m))?;
    }
    for edge in graph.children().filter(|n| n.has_tag_name_local("edge")) {
        let end = |name: &str| {
            let key = edge
                .attribute(name)
                .ok_or_else(|| at(edge, format!("<edge> without a {name} attribute")))?;
            g.node(key)
                .ok_or_else(|| at(edge, format!("edge {name} {key:?} is not a node id")))
        };
        let (a, b) = (end("source")?, end("target")?);
        let d = data_of(edge, &names);
        let number = |k: &str| d.get(k).and_then(|v| v.parse::<f64>().ok());
        let mbps = super::zoo_speed_mbps(
            number("LinkSpeedRaw"),
            number("LinkSpeed"),
            d.get("LinkSpeedUnits").copied(),
        );
        g.add_edge(a, b, mbps);
    }
    Ok(g.finish(defaults))
}

/// The most attributes one XML element may have (GraphML elements have a
/// handful; the XML parser checks each new attribute against all earlier
/// ones, so 200,000 attributes on one node took minutes).
const MAX_ATTRIBUTES: usize = 256;

/// Refuse an element with more than [`MAX_ATTRIBUTES`] attributes, in one
/// linear pass before parsing: an attribute is an `=` outside quotes inside
/// a tag (`<...>`, not a comment, CDATA, DOCTYPE or processing instruction).
fn check_attribute_counts(text: &str, file: &str) -> Result<()> {
    let bytes = text.as_bytes();
    let (mut i, mut line) = (0usize, 1usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'<' if !matches!(bytes.get(i + 1), Some(b'!') | Some(b'?')) => {
                let (start_line, mut count, mut quote) = (line, 0usize, None::<u8>);
                i += 1;
                while i < bytes.len() {
                    let b = bytes[i];
                    match (quote, b) {
                        (_, b'\n') => line += 1,
                        (Some(q), _) if b == q => quote = None,
                        (None, b'"') | (None, b'\'') => quote = Some(b),
                        (None, b'=') => count += 1,
                        (None, b'>') => break,
                        _ => {}
                    }
                    i += 1;
                }
                if count > MAX_ATTRIBUTES {
                    return Err(Error::input(
                        Location::file(file).at_line(start_line),
                        format!("an XML element with {count} attributes (at most {MAX_ATTRIBUTES})"),
                    ));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// A node's or edge's `<data>` as attribute name → trimmed text.
fn data_of<'a, 'input>(element: Node<'a, 'input>, names: &HashMap<&'a str, &'a str>) -> HashMap<&'a str, &'a str> {
    element
        .children()
        .filter(|d| d.has_tag_name_local("data"))
        .filter_map(|d| {
            let key = d.attribute("key")?;
            Some((names.get(key).copied().unwrap_or(key), d.text().unwrap_or("").trim()))
        })
        .collect()
}

trait LocalName {
    fn has_tag_name_local(&self, name: &str) -> bool;
}

impl LocalName for Node<'_, '_> {
    /// Match the tag's local name, whatever its namespace.
    fn has_tag_name_local(&self, name: &str) -> bool {
        self.is_element() && self.tag_name().name() == name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n  <key attr.name=\"label\" attr.type=\"string\" for=\"node\" id=\"d1\" />\n  <key attr.name=\"LinkSpeedRaw\" attr.type=\"double\" for=\"edge\" id=\"d2\" />\n";

    fn import_str(body: &str) -> Result<Topology> {
        import(&format!("{HEAD}{body}"), "t.graphml", Attributes::default())
    }

    #[test]
    fn reads_labels_speeds_and_merges_parallel_edges() {
        let t = import_str(
            "  <graph edgedefault=\"undirected\">\n    <node id=\"0\"><data key=\"d1\">Sao Paulo</data></node>\n    <node id=\"1\"><data key=\"d1\">Rio &amp; co</data></node>\n    <node id=\"2\"/>\n    <edge source=\"0\" target=\"1\"><data key=\"d2\">155000000.0</data></edge>\n    <edge source=\"1\" target=\"0\"/>\n    <edge source=\"2\" target=\"1\"/>\n  </graph>\n</graphml>\n",
        )
        .unwrap();
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["Sao_Paulo", "Rio___co", "2"]);
        assert_eq!(t.links.len(), 2);
        assert_eq!(t.links[0].mbps, 1155.0);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "  <graph>\n    <node id=\"0\"/>\n    <edge source=\"0\" target=\"7\"/>\n  </graph>\n</graphml>",
                "t.graphml:7: edge target \"7\" is not a node id",
            ),
            (
                "  <graph>\n    <node id=\"0\"/>\n    <node id=\"0\"/>\n  </graph>\n</graphml>",
                "t.graphml:7: duplicate node id \"0\"",
            ),
            (
                "  <graph>\n    <node/>\n  </graph>\n</graphml>",
                "t.graphml:6: <node> without an id attribute",
            ),
            (
                "  <graph>\n    <node id=\"0\">\n  </graph>\n</graphml>",
                "t.graphml:7: not well-formed XML",
            ),
        ];
        for (body, expected) in cases {
            let err = import_str(body).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err:?} should start with {expected:?}");
        }
        let err = import("<svg/>", "x.xml", Attributes::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "x.xml:1: expected a <graphml> document, found <svg>");
    }

    #[test]
    fn an_element_with_too_many_attributes_is_refused_at_once() {
        let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"1\"")).collect();
        let text = format!("<?xml version=\"1.0\"?>\n<graphml>\n<graph><node id=\"0\"{attrs}/></graph></graphml>");
        let start = std::time::Instant::now();
        let err = import(&text, "t.graphml", Attributes::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.graphml:3: an XML element with 100001 attributes"),
            "{err}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let ok = "<graphml><!-- a=b c=d --><graph><node id=\"x=y\" a='=' /></graph></graphml>";
        assert!(check_attribute_counts(ok, "t").is_ok());
    }
}
