//! Load snapshots (SPEC §1): one JSON object per NDJSON line.

use crate::error::{Error, Location, Result};
use crate::limits::MAX_VALUE;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadSnapshot {
    /// Virtual time of the snapshot (s).
    pub t: f64,
    /// CPU-seconds per virtual second each vnode uses by itself.
    #[serde(default)]
    pub cpu: BTreeMap<String, f64>,
    /// Traffic per link, both directions summed (Mbit per virtual second).
    #[serde(default)]
    pub mbps: Vec<LinkRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRate {
    pub a: String,
    pub b: String,
    pub rate: f64,
}

impl LoadSnapshot {
    /// Check numbers are finite and not negative; `line` is the NDJSON line.
    pub fn validate(&self, file: &str, line: Option<usize>) -> Result<()> {
        let loc = |p: String| {
            let l = Location::file(file).at_path(p);
            match line {
                Some(n) => l.at_line(n),
                None => l,
            }
        };
        if !(self.t.is_finite() && self.t.abs() <= MAX_VALUE) {
            return Err(Error::input(
                loc("t".into()),
                format!("t must be a number in [-{MAX_VALUE:e}, {MAX_VALUE:e}] (seconds)"),
            ));
        }
        for (id, c) in &self.cpu {
            if !(c.is_finite() && (0.0..=MAX_VALUE).contains(c)) {
                return Err(Error::input(
                    loc(format!("cpu.{id}")),
                    format!("must be a number in [0, {MAX_VALUE:e}], got {c}"),
                ));
            }
        }
        for (i, r) in self.mbps.iter().enumerate() {
            if !(r.rate.is_finite() && (0.0..=MAX_VALUE).contains(&r.rate)) {
                return Err(Error::input(
                    loc(format!("mbps[{i}].rate")),
                    format!("negative or invalid rate {} (must be in [0, {MAX_VALUE:e}])", r.rate),
                ));
            }
        }
        Ok(())
    }
}

/// Parse and validate an NDJSON stream of snapshots.
pub fn parse_load_stream(text: &str, file: &str) -> Result<Vec<LoadSnapshot>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let snap: LoadSnapshot = crate::io::parse_json_at(line, Location::file(file).at_line(i + 1))?;
        snap.validate(file, Some(i + 1))?;
        out.push(snap);
    }
    Ok(out)
}
