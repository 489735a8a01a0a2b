//! What a VM's CPU did apart from its vnodes: `/proc/stat`'s busy time
//! less the vnode groups' usage ([`super::cgroup::CgroupDriver::all_vnodes_usage_ns`]).
//! Read before and after a stretch of work (pre-copy's rounds), the
//! difference is the CPU that work took from the experiment's VM: on a VM
//! whose vnodes keep its CPU busy, what criu and the copy use is what the
//! vnodes lose; on an idle VM, it is the work itself (plus the VM's own
//! background, a few per mille).

use super::exec::Executor;
use super::paths::Paths;
use crate::error::{Error, Result};
use std::path::Path;

/// `/proc/stat` counts in USER_HZ ticks, 100 per second on Linux whatever
/// the kernel's own HZ.
const TICKS_PER_S: f64 = 100.0;

/// One reading of a VM's CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSample {
    /// CPU seconds the VM's CPUs spent busy (user, nice, system, irq,
    /// softirq: neither idle, iowait nor steal), summed over its CPUs.
    pub busy_s: f64,
    /// CPU seconds used by its vnode groups.
    pub vnodes_s: f64,
    /// The CPUs the VM has.
    pub cpus: u32,
}

impl CpuSample {
    /// Read it on the VM behind `ex`.
    pub fn read(ex: &mut dyn Executor, paths: &Paths) -> Result<CpuSample> {
        let stat = ex.read_file(Path::new("/proc/stat"))?;
        let (busy_s, cpus) = parse_proc_stat(&String::from_utf8_lossy(&stat))
            .ok_or_else(|| Error::Host(format!("{}: /proc/stat: no cpu line", ex.label())))?;
        let vnodes_s = paths.cgroups.all_vnodes_usage_ns(ex)? as f64 / 1e9;
        Ok(CpuSample { busy_s, vnodes_s, cpus })
    }

    /// CPU seconds per CPU of the VM that went to work outside the vnodes
    /// between `self` and `later` (≥ 0).
    ///
    /// ```
    /// use netbalance::testbed::cpu::CpuSample;
    /// let a = CpuSample { busy_s: 10.0, vnodes_s: 4.0, cpus: 2 };
    /// let b = CpuSample { busy_s: 13.0, vnodes_s: 5.0, cpus: 2 };
    /// assert_eq!(a.outside_vnodes_until(&b), 1.0); // (3 − 1) CPU-s over 2 CPUs
    /// ```
    pub fn outside_vnodes_until(&self, later: &CpuSample) -> f64 {
        let busy = later.busy_s - self.busy_s;
        let vnodes = later.vnodes_s - self.vnodes_s;
        ((busy - vnodes) / later.cpus.max(1) as f64).max(0.0)
    }
}

/// Busy CPU seconds (all CPUs together) and the number of CPUs, from the
/// text of `/proc/stat`.
///
/// ```
/// let (busy, cpus) = netbalance::testbed::cpu::parse_proc_stat(
///     "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 100 5 50 1000 20 3 2 7 0 0\nintr 1\n",
/// ).unwrap();
/// assert_eq!((busy, cpus), (1.6, 1)); // 100 + 5 + 50 + 3 + 2 ticks
/// ```
pub fn parse_proc_stat(text: &str) -> Option<(f64, u32)> {
    let mut lines = text.lines();
    let first = lines.next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = first
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if f.len() < 7 {
        return None;
    }
    let busy = f[0] + f[1] + f[2] + f[5] + f[6];
    let cpus = text
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count() as u32;
    Some((busy as f64 / TICKS_PER_S, cpus.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_of_two_cpus() {
        let text =
            "cpu  200 0 100 5000 0 0 0 40 0 0\ncpu0 100 0 50 2500 0 0 0 20 0 0\ncpu1 100 0 50 2500 0 0 0 20 0 0\n";
        assert_eq!(parse_proc_stat(text), Some((3.0, 2)));
        assert_eq!(parse_proc_stat("cpu0 1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2 x 4 5 6 7\n"), None);
    }

    #[test]
    fn outside_vnodes_never_negative() {
        let a = CpuSample {
            busy_s: 10.0,
            vnodes_s: 4.0,
            cpus: 1,
        };
        let b = CpuSample {
            busy_s: 10.5,
            vnodes_s: 4.7,
            cpus: 1,
        };
        assert_eq!(a.outside_vnodes_until(&b), 0.0);
    }
}
