//! Reading inputs (`-` or no file means stdin) and writing results to stdout.
//! stdout carries data only; everything for people goes to stderr.

use crate::error::{Error, Location, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// `-` means stdin; anything else is a path.
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(arg.to_path_buf())
        }
    }
    /// The name used in error messages.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
    /// The path to record in a placement's `"topology"`/`"testbed"` field.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Stdin => None,
            Source::File(p) => Some(p),
        }
    }
    /// Read the whole input; refuse inputs over [`max_input_bytes`] with a
    /// clear error rather than running out of memory.
    pub fn read_to_string(&self) -> Result<String> {
        let limit = max_input_bytes();
        let name = self.name();
        let reader: Box<dyn Read> = match self {
            Source::Stdin => Box::new(std::io::stdin()),
            Source::File(p) => Box::new(std::fs::File::open(p).map_err(|e| Error::io(&name, e))?),
        };
        let mut bytes = Vec::new();
        reader
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&name, e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::input(
                Location::file(&name),
                format!("input larger than {limit} bytes (set NETBALANCE_MAX_INPUT_BYTES to raise the limit)"),
            ));
        }
        String::from_utf8(bytes).map_err(|e| Error::input(Location::file(&name), format!("not UTF-8 text: {e}")))
    }
}

/// The largest input read (default 1 GiB, about ten million vnodes; measured:
/// a 1,000,000-vnode topology of 80 MB peaks at about 0.6 GB of memory).
/// `NETBALANCE_MAX_INPUT_BYTES` overrides it.
pub fn max_input_bytes() -> u64 {
    std::env::var("NETBALANCE_MAX_INPUT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30)
}

/// True when stdin is a pipe or file rather than a terminal.
pub fn stdin_is_piped() -> bool {
    !std::io::stdin().is_terminal()
}

/// Parse one JSON document, reporting line, column and JSON path on failure.
pub fn parse_json<T: DeserializeOwned>(text: &str, source_name: &str) -> Result<T> {
    parse_json_at(text, Location::file(source_name))
}

/// Like [`parse_json`], with line numbers offset for NDJSON records.
pub fn parse_json_at<T: DeserializeOwned>(text: &str, base: Location) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let mut location = base.clone().at_path(path);
            if text.trim().is_empty() {
                return Err(Error::input(location, "empty input (expected a JSON document)"));
            }
            let line = inner.line() + base.line.map(|l| l - 1).unwrap_or(0);
            location.line = Some(line);
            location.column = Some(inner.column());
            // serde_json's message ends with " at line L column C": we print those ourselves.
            let msg = inner.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            };
            Err(Error::input(location, msg))
        }
    }
}

/// Read and parse one JSON document from a source.
pub fn read_json<T: DeserializeOwned>(source: &Source) -> Result<T> {
    let text = source.read_to_string()?;
    parse_json(&text, &source.name())
}

/// Read an NDJSON stream: one value per non-empty line, each error naming its line.
pub fn parse_ndjson<T: DeserializeOwned>(text: &str, source_name: &str) -> Result<Vec<T>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_json_at(l, Location::file(source_name).at_line(i + 1)))
        .collect()
}

/// Significant digits a result keeps in JSON output ([`round_result`]).
pub const RESULT_DIGITS: usize = 6;

/// A result rounded to [`RESULT_DIGITS`] significant digits, so that JSON
/// says what it means (`0.41400000000000003` → `0.414`). Only for results
/// people read; values another command takes as input (placements, load
/// snapshots, topologies, cost profiles) keep full precision.
///
/// ```
/// use netbalance::io::round_result;
/// assert_eq!(round_result(0.41400000000000003), 0.414);
/// assert_eq!(round_result(12.3456789), 12.3457);
/// assert_eq!(round_result(-0.0001234567), -0.000123457);
/// assert_eq!(round_result(0.0), 0.0);
/// ```
pub fn round_result(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{:.*e}", RESULT_DIGITS - 1, x).parse().unwrap_or(x)
}

/// A serialisable result as JSON with every non-integer number rounded
/// by [`round_result`].
pub fn rounded<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                if let Some(r) = n.as_f64().map(round_result).and_then(serde_json::Number::from_f64) {
                    *n = r;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => o.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(value).map_err(|e| Error::io("<stdout>", e.into()))?;
    walk(&mut v);
    Ok(v)
}

/// Write one value as pretty JSON plus newline to stdout.
pub fn write_json_stdout<T: Serialize>(value: &T) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| Error::io("<stdout>", e.into()))?;
    writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
    out.flush().map_err(|e| Error::io("<stdout>", e))
}

/// Write one value as a single NDJSON line to a writer and flush it, so that
/// a downstream command in a pipe sees it at once.
pub fn write_ndjson_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Error::io("<stdout>", e.into()))?;
    writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
    out.flush().map_err(|e| Error::io("<stdout>", e))
}

/// Write text to stdout (for `--human` tables, CSV, …).
pub fn write_text_stdout(text: &str) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes()).map_err(|e| Error::io("<stdout>", e))?;
    out.flush().map_err(|e| Error::io("<stdout>", e))
}

/// Write a file atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path.display().to_string(), e)
    })
}
