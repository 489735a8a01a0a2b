//! The bounds every flag and input is held to, in one place, so that any
//! accepted input ends in bounded time and memory, and the model stays finite.
//! An input beyond a bound is refused at once (exit 2) by a message naming
//! the flag or field and the bound. docs/limits.md lists them with the
//! memory and time they allow.

use crate::error::{Error, Result};
use std::time::Duration;

/// The longest duration any flag takes, seconds (about 115 days).
pub const MAX_SECONDS: f64 = 1e7;
/// The shortest prediction window T_p, seconds.
pub const MIN_TP_S: f64 = 1e-3;
/// The most windows one `balance --replay` or one `simulate` run may have
/// (its stream or scenario length over T_p).
pub const MAX_WINDOWS: f64 = 1e6;
/// The most VMs a generated testbed or a simulation has (hosts × CPUs).
pub const MAX_VMS: usize = 1_000_000;
/// The most independent runs of `simulate`.
pub const MAX_RUNS: usize = 100_000;
/// The most placer moves per second of T_o `simulate` assumes (ours: 0.5–5 M/s).
pub const MAX_MOVES_PER_S: f64 = 1e8;
/// The most snapshots a predictor keeps (`--history`, `--max-lag`).
pub const MAX_HISTORY: usize = 100_000;
/// The longest line the stdin reader accepts (one NDJSON snapshot), bytes.
pub const MAX_LINE_BYTES: usize = 256 << 20;
/// The largest magnitude of a number in a model input (capacity, memory,
/// CPU, rate, bandwidth, cost): with at most 10^7 vnodes and links, sums and
/// products of such numbers stay far from f64's 1.8e308.
pub const MAX_VALUE: f64 = 1e12;
/// The smallest positive capacity, bandwidth or cost divisor (below it τ
/// overflows).
pub const MIN_POSITIVE: f64 = 1e-9;

/// A seconds-valued flag: finite, within `[min, MAX_SECONDS]` (`min` is
/// exclusive when `open_min`).
pub fn seconds(flag: &str, v: f64, min: f64, open_min: bool) -> Result<f64> {
    let low_ok = if open_min { v > min } else { v >= min };
    if v.is_finite() && low_ok && v <= MAX_SECONDS {
        Ok(v)
    } else {
        let bracket = if open_min { "(" } else { "[" };
        Err(Error::usage(format!(
            "{flag} {}: need a number of seconds in {bracket}{min}, {MAX_SECONDS:e}]",
            num(v)
        )))
    }
}

/// A count flag within `[min, max]`.
pub fn count(flag: &str, v: usize, min: usize, max: usize) -> Result<usize> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::usage(format!(
            "{flag} {v}: need a whole number in [{min}, {max}]"
        )))
    }
}

/// A real-valued flag within `[min, max]`.
pub fn real(flag: &str, v: f64, min: f64, max: f64) -> Result<f64> {
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(Error::usage(format!(
            "{flag} {v}: need a finite number in [{min}, {max:e}]"
        )))
    }
}

/// A number of seconds as a [`Duration`], without the panic of
/// `Duration::from_secs_f64` on huge or non-finite values.
pub fn duration(flag: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| Error::usage(format!("{flag} {}: not a representable duration", num(s))))
}

/// A number for a message: short (`1e300`, not 301 digits).
pub fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// How many windows of `tp` seconds cover `span` seconds; refuses more than
/// [`MAX_WINDOWS`] (`what` names the span).
pub fn windows(what: &str, span: f64, tp: f64) -> Result<f64> {
    let n = (span / tp).ceil();
    if n.is_finite() && n <= MAX_WINDOWS {
        Ok(n.max(0.0))
    } else {
        Err(Error::usage(format!(
            "{what} of {span:e} s at T_p = {tp} s is {n:e} windows, more than the limit of {MAX_WINDOWS:e} (raise --tp)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_outside_and_name_the_flag() {
        assert_eq!(seconds("--tp", 10.0, MIN_TP_S, false).unwrap(), 10.0);
        for v in [f64::NAN, f64::INFINITY, 1e300, 1e-9, -1.0] {
            let e = seconds("--tp", v, MIN_TP_S, false).unwrap_err().to_string();
            assert!(e.starts_with("--tp ") && e.len() < 80, "{e}");
        }
        assert!(seconds("--interval", 0.0, 0.0, true).is_err());
        assert!(count("--runs", 0, 1, MAX_RUNS).is_err() && count("--runs", 7, 1, MAX_RUNS).is_ok());
        assert!(duration("--to", 1e299).is_err() && duration("--to", f64::NAN).is_err());
        assert_eq!(duration("--to", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(windows("the stream", 1e15, 10.0).is_err());
        assert_eq!(windows("the stream", 100.0, 10.0).unwrap(), 10.0);
    }
}
