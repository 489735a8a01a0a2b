//! The library's error type. Every variant knows its exit code (SPEC §7):
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
    /// The process exit code this error maps to (SPEC §7).
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
