//! The emulated network: virtual nodes and undirected links between them.

use super::names::check_name;
use crate::error::{Error, Location, Result};
use crate::limits::MAX_VALUE;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub vnodes: Vec<Vnode>,
    #[serde(default)]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vnode {
    pub id: String,
    /// Memory of the software under test: the state a migration moves (MB).
    #[serde(default = "default_memory_mb")]
    pub memory_mb: f64,
    /// Expected CPU load (CPU-seconds per virtual second), used when no `--load` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// The software under test: a command line started in the vnode's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Rate at which the software dirties its memory while it runs (MB/s):
    /// the pre-copy model's `d` (model §3.1); absent: the costs profile's
    /// `pre_copy.dirty_mb_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_mb_s: Option<f64>,
}

pub fn default_memory_mb() -> f64 {
    10.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub a: String,
    pub b: String,
    /// Emulated bandwidth (Mbit/s).
    pub mbps: f64,
    /// Emulated delay (ms).
    #[serde(default)]
    pub delay_ms: f64,
    /// Expected traffic (Mbit per virtual second, both directions); default `mbps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl Link {
    /// The expected rate used when no load is measured: `rate`, else `mbps`.
    pub fn expected_rate(&self) -> f64 {
        self.rate.unwrap_or(self.mbps)
    }
}

impl Vnode {
    pub fn new(id: impl Into<String>) -> Self {
        Vnode {
            id: id.into(),
            memory_mb: default_memory_mb(),
            cpu: None,
            run: None,
            dirty_mb_s: None,
        }
    }
}

impl Link {
    pub fn new(a: impl Into<String>, b: impl Into<String>, mbps: f64) -> Self {
        Link {
            a: a.into(),
            b: b.into(),
            mbps,
            delay_ms: 0.0,
            rate: None,
        }
    }
}

/// A number in [0, [`MAX_VALUE`]]: finite, and small enough that the model's
/// sums and products stay finite.
fn non_negative(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_VALUE).contains(&v)
}

impl Topology {
    /// Index of every vnode id.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.vnodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect()
    }

    /// Check ids, numbers, dangling and duplicate links; errors name the JSON path.
    pub fn validate(&self, file: &str) -> Result<()> {
        let at = |path: String, msg: String| Error::input(Location::file(file).at_path(path), msg);
        let mut ids = HashSet::with_capacity(self.vnodes.len());
        for (i, n) in self.vnodes.iter().enumerate() {
            check_name(&n.id).map_err(|m| at(format!("vnodes[{i}].id"), m))?;
            if !ids.insert(n.id.as_str()) {
                return Err(at(format!("vnodes[{i}].id"), format!("duplicate vnode id {:?}", n.id)));
            }
            if !non_negative(n.memory_mb) {
                return Err(at(
                    format!("vnodes[{i}].memory_mb"),
                    format!("must be a number in [0, {MAX_VALUE:e}], got {}", n.memory_mb),
                ));
            }
            if let Some(c) = n.cpu {
                if !non_negative(c) {
                    return Err(at(
                        format!("vnodes[{i}].cpu"),
                        format!("must be a number in [0, {MAX_VALUE:e}], got {c}"),
                    ));
                }
            }
            if let Some(d) = n.dirty_mb_s {
                if !non_negative(d) {
                    return Err(at(
                        format!("vnodes[{i}].dirty_mb_s"),
                        format!("must be a number in [0, {MAX_VALUE:e}], got {d}"),
                    ));
                }
            }
            if let Some(run) = &n.run {
                if run.trim().is_empty() || run.contains('\0') {
                    return Err(at(
                        format!("vnodes[{i}].run"),
                        "must be a non-empty command line without NUL bytes".into(),
                    ));
                }
            }
        }
        let mut pairs = HashSet::with_capacity(self.links.len());
        for (i, l) in self.links.iter().enumerate() {
            for (end, id) in [("a", &l.a), ("b", &l.b)] {
                if !ids.contains(id.as_str()) {
                    return Err(at(
                        format!("links[{i}].{end}"),
                        format!("dangling link: no vnode {id:?}"),
                    ));
                }
            }
            if l.a == l.b {
                return Err(at(format!("links[{i}]"), format!("link from {:?} to itself", l.a)));
            }
            let key = if l.a < l.b {
                (l.a.as_str(), l.b.as_str())
            } else {
                (l.b.as_str(), l.a.as_str())
            };
            if !pairs.insert(key) {
                return Err(at(
                    format!("links[{i}]"),
                    format!("duplicate link between {:?} and {:?}", l.a, l.b),
                ));
            }
            if !non_negative(l.mbps) {
                return Err(at(
                    format!("links[{i}].mbps"),
                    format!("must be a number in [0, {MAX_VALUE:e}], got {}", l.mbps),
                ));
            }
            if !non_negative(l.delay_ms) {
                return Err(at(
                    format!("links[{i}].delay_ms"),
                    format!("must be a number in [0, {MAX_VALUE:e}], got {}", l.delay_ms),
                ));
            }
            if let Some(r) = l.rate {
                if !non_negative(r) {
                    return Err(at(
                        format!("links[{i}].rate"),
                        format!("negative or invalid rate {r} (must be in [0, {MAX_VALUE:e}])"),
                    ));
                }
            }
        }
        Ok(())
    }
}
