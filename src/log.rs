//! What goes to stderr besides errors, set once by the global `-q`/`-v`
//! flags: `-q` keeps errors only, `-v` adds which files were read and
//! what was resolved. stdout is never touched here.

use std::sync::atomic::{AtomicU8, Ordering};

/// How much a command says on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors only (`-q`).
    Quiet = 0,
    /// Progress and results for people (the default).
    Normal = 1,
    /// Also which inputs were resolved from where (`-v`).
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

/// Set the level for the rest of the process (the binary does it once).
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level from the flags: `-q` wins over nothing, `-v` raises it.
pub fn level_of(quiet: bool, verbose: u8) -> Level {
    match (quiet, verbose) {
        (true, _) => Level::Quiet,
        (false, 0) => Level::Normal,
        _ => Level::Verbose,
    }
}

/// True under `-q`.
pub fn quiet() -> bool {
    LEVEL.load(Ordering::Relaxed) == Level::Quiet as u8
}

/// True under `-v`.
pub fn verbose() -> bool {
    LEVEL.load(Ordering::Relaxed) >= Level::Verbose as u8
}

/// A line for people on stderr, unless `-q`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if !$crate::log::quiet() {
            eprintln!($($arg)*);
        }
    };
}

/// A line on stderr under `-v` only.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            eprintln!($($arg)*);
        }
    };
}
