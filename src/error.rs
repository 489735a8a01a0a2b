//! The library's error type. Every variant knows its exit code (model §7):
//! 2 for bad input or usage, 3 for a host failure after which the testbed was
//! put back into a consistent placement.

use std::fmt;

/// Where in an input a fault lies: the file (or `<stdin>`) and, when known,
/// a line/column and a JSON path such as `hosts[0].vms[1].capacity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub path: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
            path: None,
        }
    }
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        let p = path.into();
        self.path = if p.is_empty() || p == "." { None } else { Some(p) };
        self
    }
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(path) = &self.path {
            write!(f, ": {path}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed or inconsistent input: names the file, line and JSON path.
    #[error("{location}: {message}")]
    Input { location: Location, message: String },
    /// Wrong use of the command line (missing input, conflicting flags).
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A step on a host failed; the testbed was put back into a consistent
    /// placement (named in the state dir). Exit code 3.
    #[error("{message} (the testbed was put back into a consistent placement)")]
    HostRecovered { message: String },
    /// A step on a host failed and could not be recovered automatically.
    #[error("{0}")]
    Host(String),
    /// A command on a host ran and failed: the host (an executor's label),
    /// the command line, its exit status (-1: killed by a signal) and its
    /// stderr.
    #[error("{host}: `{command}` exited with {status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    HostCommand {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },
    /// What was being done on a host, and the error that stopped it (from
    /// the system, SSH or an earlier step): `{:#}` and [`one_line`] print
    /// the cause after it.
    #[error("{host}: {what}")]
    HostOp {
        host: String,
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    pub fn input(location: Location, message: impl Into<String>) -> Self {
        Error::Input {
            location,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// A command on `host` that exited with `status`, with its `stderr`
    /// (trimmed; the whole of it, as the executors always reported it).
    pub fn host_command(host: impl Into<String>, command: impl ToString, status: i32, stderr: &str) -> Self {
        Error::HostCommand {
            host: host.into(),
            command: command.to_string(),
            status,
            stderr: stderr.trim().to_string(),
        }
    }
    /// `what` failed on `host` because of `source`.
    ///
    /// ```
    /// use netbalance::error::{one_line, Error};
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
    /// let e = Error::host_op("local", "reading /x", io);
    /// assert_eq!(one_line(&e), "local: reading /x: No such file");
    /// ```
    pub fn host_op(
        host: impl Into<String>,
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::HostOp {
            host: host.into(),
            what: what.into(),
            source: source.into(),
        }
    }
    /// The process exit code this error maps to (model §7).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::HostRecovered { .. } => 3,
            _ => 2,
        }
    }
    /// True for a write to a closed pipe (`netbalance … | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes as one line for stderr: the causes joined by
/// ": ", a cause left out when the text so far already ends with it (an
/// `Io` error prints its source itself), and every control or
/// text-direction character escaped ([`escape`]), so that no input text
/// can start a second line or send a terminal escape.
///
/// ```
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "Is a directory");
/// let err = netbalance::Error::io("x\ny", io);
/// assert_eq!(netbalance::error::one_line(&err), "x\\ny: Is a directory");
/// ```
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    escape(&text)
}

/// `text` with control characters (newline, ESC, DEL, C1 codes) and
/// invisible text-direction marks escaped as in Rust source (`\n`,
/// `\u{1b}`); other text unchanged.
///
/// ```
/// assert_eq!(netbalance::error::escape("a\n\x1b[2Jb ü"), "a\\n\\u{1b}[2Jb ü");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible =
            matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || invisible {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn host_errors_keep_their_cause_as_a_source() {
        let cmd = Error::host_command("h0-v1", "ip netns del x", 1, "\nCannot remove\nbusy\n");
        assert_eq!(
            cmd.to_string(),
            "h0-v1: `ip netns del x` exited with 1: Cannot remove\nbusy"
        );
        assert_eq!(
            one_line(&cmd),
            "h0-v1: `ip netns del x` exited with 1: Cannot remove\\nbusy"
        );
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let op = Error::host_op("h1-v0", "restoring n3", Error::host_op("h1-v0", "reading /x", io));
        assert_eq!(op.to_string(), "h1-v0: restoring n3");
        let inner = op.source().expect("a source");
        assert_eq!(inner.to_string(), "h1-v0: reading /x");
        assert_eq!(inner.source().expect("the io error").to_string(), "denied");
        assert_eq!(one_line(&op), "h1-v0: restoring n3: h1-v0: reading /x: denied");
        assert_eq!(op.exit_code(), 2);
    }
}
