//! Load snapshots (model §1): one JSON object per NDJSON line.

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
    /// Optional: how fast each vnode dirtied its memory (MB/s of real time,
    /// MB = 2^20 bytes), where `monitor --dirty` could measure it (model
    /// §3.1's `dirty_mb_s`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dirty_mb_s: BTreeMap<String, f64>,
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
        for (id, d) in &self.dirty_mb_s {
            if !(d.is_finite() && (0.0..=MAX_VALUE).contains(d)) {
                return Err(Error::input(
                    loc(format!("dirty_mb_s.{id}")),
                    format!("must be a number in [0, {MAX_VALUE:e}] (MB/s), got {d}"),
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

/// The shape of one snapshot, for messages.
const SHAPE: &str = r#"{"t":…,"cpu":{…},"mbps":[…]}"#;

/// Parse and validate one NDJSON line (`line`: its number, from 1). A line
/// that is not a snapshot says what it is instead: a pretty-printed JSON
/// document (one `{` on a line), or a topology, placement or testbed.
///
/// ```
/// use netbalance::model::load::parse_snapshot_line;
/// let err = parse_snapshot_line("{", "<stdin>", 1).unwrap_err().to_string();
/// assert!(err.starts_with("<stdin>:1: expected one load snapshot per line"), "{err}");
/// let err = parse_snapshot_line(r#"{"vnodes":[]}"#, "t.json", 1).unwrap_err().to_string();
/// assert!(err.contains("found a topology"), "{err}");
/// ```
pub fn parse_snapshot_line(line: &str, file: &str, number: usize) -> Result<LoadSnapshot> {
    let at = Location::file(file).at_line(number);
    let found = match serde_json::from_str::<serde_json::Value>(line) {
        Err(e) if e.is_eof() => Some(format!(
            "a JSON value that goes on past the line (`{}`): pretty-printed JSON? (`jq -c .` writes one value per line)",
            line.trim().chars().take(20).collect::<String>()
        )),
        Ok(serde_json::Value::Object(o)) => what_object(&o),
        _ => None,
    };
    if let Some(found) = found {
        return Err(Error::input(
            at,
            format!("expected one load snapshot per line (NDJSON, {SHAPE}), found {found}"),
        ));
    }
    let snap: LoadSnapshot = crate::io::parse_json_at(line, at)?;
    snap.validate(file, Some(number))?;
    Ok(snap)
}

/// What a JSON object that is not a snapshot is, if netbalance knows it.
fn what_object(o: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    [
        ("vnodes", "a topology"),
        ("vm_of", "a placement"),
        ("hosts", "a testbed"),
        ("type", "a record of another command"),
    ]
    .iter()
    .find(|(k, _)| o.contains_key(*k) && !o.contains_key("t"))
    .map(|(k, what)| format!("{what} (it has \"{k}\")"))
}

/// Parse and validate an NDJSON stream of snapshots. A whole text that is
/// one pretty-printed document is named as such (a topology, …).
pub fn parse_load_stream(text: &str, file: &str) -> Result<Vec<LoadSnapshot>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let snap = parse_snapshot_line(line, file, i + 1).map_err(|e| {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(o)) if text.trim().lines().count() > 1 => {
                    let what = what_object(&o).unwrap_or_else(|| "one JSON object".into());
                    Error::input(
                        Location::file(file).at_line(i + 1),
                        format!("expected one load snapshot per line (NDJSON, {SHAPE}), found {what} pretty-printed over {} lines", text.trim().lines().count()),
                    )
                }
                _ => e,
            }
        })?;
        out.push(snap);
    }
    Ok(out)
}
