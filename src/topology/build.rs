//! Turning an imported graph into a [`Topology`]: labels become valid,
//! unique ids; parallel edges merge; self-loops are dropped.

use crate::model::names::{sanitize, MAX_NAME_LEN};
use crate::model::{Link, Topology, Vnode};
use std::collections::{HashMap, HashSet};

/// The attributes every vnode and link gets unless its source says better
/// (model §1 defaults: 10 MB of state, 1 Gbit/s links with 1 ms delay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attributes {
    pub memory_mb: f64,
    pub mbps: f64,
    pub delay_ms: f64,
}

impl Default for Attributes {
    fn default() -> Self {
        Attributes {
            memory_mb: 10.0,
            mbps: 1000.0,
            delay_ms: 1.0,
        }
    }
}

/// Collects the nodes and edges an importer reads, keyed by the file's own
/// node ids, and builds the topology.
///
/// ```
/// use netbalance::topology::build::{Attributes, GraphBuilder};
/// let mut g = GraphBuilder::default();
/// let ny = g.add_node("0", Some("New York")).unwrap();
/// let dc = g.add_node("1", Some("Washington DC")).unwrap();
/// g.add_edge(ny, dc, Some(10_000.0));
/// g.add_edge(dc, ny, Some(10_000.0)); // parallel: capacities add up
/// g.add_edge(ny, ny, None);           // self-loop: dropped
/// let t = g.finish(Attributes::default());
/// assert_eq!(t.vnodes[0].id, "New_York");
/// assert_eq!(t.links.len(), 1);
/// assert_eq!(t.links[0].mbps, 20_000.0);
/// ```
/// Complexity: O(1) expected per node and edge, O(n + m) to finish.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    ids: Vec<String>,
    used: HashSet<String>,
    /// For each label made unique so far, the next suffix to try: n nodes
    /// with one label cost O(n), not O(n²).
    next_suffix: HashMap<String, usize>,
    by_key: HashMap<String, usize>,
    /// (a, b) with a < b → position in `edges`.
    edge_index: HashMap<(usize, usize), usize>,
    /// Endpoints and the bandwidths of the parallel edges merged into each.
    edges: Vec<(usize, usize, Vec<Option<f64>>)>,
    self_loops: usize,
    parallel: usize,
}

impl GraphBuilder {
    /// Add a node under the file's key; its id is the sanitized label (else
    /// the key), made unique with a `_2`, `_3`, … suffix. Errs on a repeated key.
    pub fn add_node(&mut self, key: &str, label: Option<&str>) -> Result<usize, String> {
        if self.by_key.contains_key(key) {
            return Err(format!("duplicate node id {key:?}"));
        }
        let label = label.map(str::trim).filter(|l| !l.is_empty()).unwrap_or(key);
        let id = self.unique(sanitize(label));
        let index = self.ids.len();
        self.used.insert(id.clone());
        self.ids.push(id);
        self.by_key.insert(key.to_string(), index);
        Ok(index)
    }

    /// The node added under `key`, if any.
    pub fn node(&self, key: &str) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    /// The node under `key`, adding it (labelled by its key) if it is new.
    pub fn node_or_add(&mut self, key: &str) -> usize {
        match self.node(key) {
            Some(i) => i,
            None => self.add_node(key, None).expect("key is new"),
        }
    }

    /// Add an undirected edge; `mbps` None means "not given by the source".
    pub fn add_edge(&mut self, a: usize, b: usize, mbps: Option<f64>) {
        if a == b {
            self.self_loops += 1;
            return;
        }
        let key = (a.min(b), a.max(b));
        match self.edge_index.get(&key) {
            Some(&e) => {
                self.parallel += 1;
                self.edges[e].2.push(mbps);
            }
            None => {
                self.edge_index.insert(key, self.edges.len());
                self.edges.push((a, b, vec![mbps]));
            }
        }
    }

    /// Self-loops dropped and parallel edges merged so far.
    pub fn dropped(&self) -> (usize, usize) {
        (self.self_loops, self.parallel)
    }

    /// The topology: nodes in the order added, links in the order first seen.
    /// Merged parallel edges carry the sum of their bandwidths (unknown ones
    /// count as `defaults.mbps`).
    pub fn finish(self, defaults: Attributes) -> Topology {
        let vnodes = self
            .ids
            .iter()
            .map(|id| Vnode {
                memory_mb: defaults.memory_mb,
                ..Vnode::new(id.clone())
            })
            .collect();
        let links = self
            .edges
            .iter()
            .map(|(a, b, speeds)| {
                let mbps = speeds.iter().map(|s| s.unwrap_or(defaults.mbps)).sum();
                Link {
                    delay_ms: defaults.delay_ms,
                    ..Link::new(self.ids[*a].clone(), self.ids[*b].clone(), mbps)
                }
            })
            .collect();
        Topology { vnodes, links }
    }

    fn unique(&mut self, base: String) -> String {
        if !self.used.contains(&base) {
            return base;
        }
        let next = self.next_suffix.entry(base.clone()).or_insert(2);
        loop {
            let suffix = format!("_{next}");
            *next += 1;
            let mut s = base.clone();
            s.truncate(MAX_NAME_LEN - suffix.len());
            s.push_str(&suffix);
            if !self.used.contains(&s) {
                return s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::check_name;
    use proptest::prelude::*;

    #[test]
    fn repeated_labels_get_suffixes_and_repeated_keys_are_errors() {
        let mut g = GraphBuilder::default();
        g.add_node("1", Some("None")).unwrap();
        g.add_node("2", Some("None")).unwrap();
        g.add_node("3", Some("None_2")).unwrap();
        assert!(g
            .add_node("1", Some("x"))
            .unwrap_err()
            .contains("duplicate node id \"1\""));
        let t = g.finish(Attributes::default());
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["None", "None_2", "None_2_2"]);
    }

    #[test]
    fn many_equal_labels_take_linear_time() {
        // Each new "x" used to try x_2, x_3, … from the start: 20,000 nodes
        // were 2·10^8 lookups (minutes); now each suffix is tried once.
        let start = std::time::Instant::now();
        let mut g = GraphBuilder::default();
        for i in 0..20_000 {
            g.add_node(&i.to_string(), Some("x")).unwrap();
        }
        let t = g.finish(Attributes::default());
        assert_eq!(t.vnodes[19_999].id, "x_20000");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn unknown_speeds_use_the_default_and_counts_are_kept() {
        let mut g = GraphBuilder::default();
        let a = g.node_or_add("a");
        let b = g.node_or_add("b");
        g.add_edge(a, b, None);
        g.add_edge(b, a, Some(5.0));
        g.add_edge(b, b, Some(5.0));
        assert_eq!(g.dropped(), (1, 1));
        let t = g.finish(Attributes {
            memory_mb: 1.0,
            mbps: 100.0,
            delay_ms: 2.0,
        });
        assert_eq!(
            t.links,
            vec![Link {
                delay_ms: 2.0,
                ..Link::new("a", "b", 105.0)
            }]
        );
        assert_eq!(t.vnodes[0].memory_mb, 1.0);
    }

    proptest! {
        #[test]
        fn any_labels_give_valid_unique_ids(labels in proptest::collection::vec(".{0,80}", 1..40)) {
            let mut g = GraphBuilder::default();
            for (i, l) in labels.iter().enumerate() {
                g.add_node(&i.to_string(), Some(l)).unwrap();
            }
            let t = g.finish(Attributes::default());
            prop_assert!(t.validate("<test>").is_ok());
            for n in &t.vnodes {
                prop_assert!(check_name(&n.id).is_ok());
            }
        }
    }
}
