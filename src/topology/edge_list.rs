//! Plain edge lists: one link per line, `a b [mbps]` (words separated by
//! blanks or commas); a line with one word declares a node without links;
//! `#` starts a comment.

use super::build::{Attributes, GraphBuilder};
use crate::error::{Error, Location, Result};
use crate::model::Topology;

/// Import an edge list. Node names are sanitized into ids (kept unique);
/// vnodes appear in order of first mention.
///
/// Complexity: O(length of the text).
pub(super) fn import(text: &str, file: &str, defaults: Attributes) -> Result<Topology> {
    let mut g = GraphBuilder::default();
    for (i, line) in text.lines().enumerate() {
        let at = |msg: String| Error::input(Location::file(file).at_line(i + 1), msg);
        let content = line.split('#').next().unwrap_or("").trim_start_matches('\u{feff}');
        let words: Vec<&str> = content
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        match words[..] {
            [] => {}
            [a] => {
                g.node_or_add(a);
            }
            [a, b] | [a, b, _] => {
                let mbps = match words.get(2) {
                    None => None,
                    Some(w) => match w.parse::<f64>() {
                        Ok(v) if v.is_finite() && (0.0..=crate::limits::MAX_VALUE).contains(&v) => Some(v),
                        // The word itself is not quoted: the file may not be an edge list at all.
                        _ => {
                            return Err(at(format!(
                                "the third word is not a bandwidth in [0, {:e}] Mbit/s (expected an edge list: `a b [mbps]` per line)",
                                crate::limits::MAX_VALUE
                            )))
                        }
                    },
                };
                let (a, b) = (g.node_or_add(a), g.node_or_add(b));
                g.add_edge(a, b, mbps);
            }
            _ => {
                return Err(at(format!(
                    "expected an edge list (`a b [mbps]` per line), found {} words",
                    words.len()
                )))
            }
        }
    }
    let topo = g.finish(defaults);
    if topo.vnodes.is_empty() {
        return Err(Error::input(
            Location::file(file),
            "no nodes: expected lines `a b [mbps]` (or `--format`)",
        ));
    }
    Ok(topo)
}

/// Why a text detected by content is not an edge list (`None`: it may be
/// one): a line of more than three words, or whose third word is no
/// number, or which ends a word in `:` (YAML, INI-like files).
///
/// Complexity: O(length of the text).
pub(super) fn unlike_edge_list(text: &str) -> Option<String> {
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim_start_matches('\u{feff}');
        let words: Vec<&str> = content
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        let odd = words.len() > 3
            || words
                .iter()
                .any(|w| w.ends_with(':') || w.starts_with('-') && w.len() == 1)
            || words
                .get(2)
                .is_some_and(|w| !w.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-'));
        if odd {
            // The line itself is not quoted: a file that is no topology at
            // all (a placement's "topology" pointing anywhere) must not leak.
            return Some(format!(
                "line {} is not an edge-list line `a b [mbps]` ({} words)",
                i + 1,
                words.len()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_links_lone_nodes_and_comments() {
        let t = import(
            "# test\na b 100\nb c   # no speed\n\nd\nc,a,5.5\nb a 50\nc\tc\n",
            "t.txt",
            Attributes::default(),
        )
        .unwrap();
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let links: Vec<_> = t.links.iter().map(|l| (l.a.as_str(), l.b.as_str(), l.mbps)).collect();
        assert_eq!(links, [("a", "b", 150.0), ("b", "c", 1000.0), ("c", "a", 5.5)]);
    }

    #[test]
    fn errors_name_the_line() {
        let err = |text| import(text, "t.txt", Attributes::default()).unwrap_err().to_string();
        assert_eq!(
            err("a b\nb c fast\n"),
            "t.txt:2: the third word is not a bandwidth in [0, 1e12] Mbit/s (expected an edge list: `a b [mbps]` per line)"
        );
        assert_eq!(
            err("a b\n\nb c -1\n"),
            "t.txt:3: the third word is not a bandwidth in [0, 1e12] Mbit/s (expected an edge list: `a b [mbps]` per line)"
        );
        assert_eq!(
            err("a b 1 {'weight': 2}\n"),
            "t.txt:1: expected an edge list (`a b [mbps]` per line), found 5 words"
        );
        assert_eq!(
            err("# only a comment\n"),
            "t.txt: no nodes: expected lines `a b [mbps]` (or `--format`)"
        );
    }
}
