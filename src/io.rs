//! Reading inputs (`-` or no file means stdin) and writing results to stdout.
//! stdout carries data only; everything for people goes to stderr.

use crate::error::{Error, Location, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Read, Write};
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
    /// clear error rather than running out of memory (a regular file is
    /// refused by its size, before reading; a directory at once). A leading
    /// UTF-8 byte-order mark is dropped.
    pub fn read_to_string(&self) -> Result<String> {
        let limit = max_input_bytes();
        let name = self.name();
        let reader: Box<dyn Read> = match self {
            Source::Stdin => Box::new(std::io::stdin()),
            Source::File(p) => {
                let file = std::fs::File::open(p).map_err(|e| Error::io(&name, e))?;
                let meta = file.metadata().map_err(|e| Error::io(&name, e))?;
                if meta.is_dir() {
                    return Err(Error::input(Location::file(&name), "a directory, not a file"));
                }
                if meta.is_file() && meta.len() > limit {
                    return Err(too_large(&name, limit));
                }
                Box::new(file)
            }
        };
        let mut bytes = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&name, e))?;
        if bytes.len() as u64 > limit {
            return Err(too_large(&name, limit));
        }
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        String::from_utf8(bytes).map_err(|e| {
            Error::input(
                Location::file(&name),
                format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

fn too_large(name: &str, limit: u64) -> Error {
    Error::input(
        Location::file(name),
        format!("input larger than {limit} bytes (set NETBALANCE_MAX_INPUT_BYTES to raise the limit)"),
    )
}

/// The largest input read (default 1 GiB, about ten million vnodes; see
/// docs/limits.md for the memory per vnode). `NETBALANCE_MAX_INPUT_BYTES`
/// overrides it (any value up to 2^64 − 1; one that is not a number is
/// ignored with a warning).
pub fn max_input_bytes() -> u64 {
    match std::env::var("NETBALANCE_MAX_INPUT_BYTES") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            crate::info!("netbalance: NETBALANCE_MAX_INPUT_BYTES={v:?} is not a number of bytes; using 1 GiB");
            1 << 30
        }),
        Err(_) => 1 << 30,
    }
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
///
/// Strict ([`crate::strict_json`]): objects only where the format has
/// objects, each key once, and nothing but whitespace after the document
/// (a file written twice with `>>` is refused, not read as its first half).
pub fn parse_json_at<T: DeserializeOwned>(text: &str, base: Location) -> Result<T> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde_path_to_error::deserialize::<_, T>(crate::strict_json::Strict::new(&mut de));
    match parsed {
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(e) => {
                let mut location = base.clone();
                location.line = Some(e.line() + base.line.map(|l| l - 1).unwrap_or(0));
                location.column = Some(e.column());
                Err(Error::input(
                    location,
                    "text after the end of the JSON document (one document expected; a file written twice?)",
                ))
            }
        },
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

/// The lines of a reader (without their `\n` or `\r\n`), each at most
/// [`crate::limits::MAX_LINE_BYTES`] long: a longer line is an
/// `InvalidData` error after reading that much, not unbounded memory.
pub fn capped_lines<R: std::io::BufRead>(reader: R) -> impl Iterator<Item = std::io::Result<String>> {
    let cap = crate::limits::MAX_LINE_BYTES as u64;
    let mut reader = reader;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = Vec::new();
        let res = (&mut reader).take(cap + 1).read_until(b'\n', &mut buf);
        match res {
            Ok(0) => {
                done = true;
                None
            }
            Ok(_) if buf.len() as u64 > cap => {
                done = true;
                Some(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line longer than {cap} bytes (one record per line expected)"),
                )))
            }
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                }
                Some(String::from_utf8(buf).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")
                }))
            }
            Err(e) => {
                done = true;
                Some(Err(e))
            }
        }
    })
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
    crate::finite::check(value)?;
    let mut v = serde_json::to_value(value).map_err(|e| Error::io("<stdout>", e.into()))?;
    walk(&mut v);
    Ok(v)
}

/// Write one value as pretty JSON plus newline to stdout.
pub fn write_json_stdout<T: Serialize>(value: &T) -> Result<()> {
    crate::finite::check(value)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| Error::io("<stdout>", e.into()))?;
    writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
    out.flush().map_err(|e| Error::io("<stdout>", e))
}

/// Write one value as a single NDJSON line to a writer and flush it, so that
/// a downstream command in a pipe sees it at once.
pub fn write_ndjson_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<()> {
    crate::finite::check(value)?;
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

/// Check, before any work, that an output file can be created where `flag`
/// names it: its directory exists and is a directory.
pub fn check_output_dir(flag: &str, path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{flag} {:?}: no directory {dir:?} to write it in",
            path
        )))
    }
}

/// Write a file atomically: a fresh temp file in the same directory
/// (created with `O_CREAT|O_EXCL|O_NOFOLLOW`: a planted symlink is never
/// followed), fsync, rename. For the state dir, whose directory is checked
/// too, see [`crate::state::SecureDir::write_atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
    let mut created = false;
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&tmp)?;
        created = true;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        if created {
            let _ = std::fs::remove_file(&tmp);
        }
        Error::io(path.display().to_string(), e)
    })
}
