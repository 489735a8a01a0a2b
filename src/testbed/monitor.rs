//! Load sampling on the real testbed: per-vnode CPU from `cpuacct.usage`,
//! per-link traffic from the byte counters of the link's interface inside
//! the vnode's namespace (`/proc/net/dev`, read with `nsenter --net`:
//! `/sys/class/net` would show the root namespace's devices). Two samples
//! make a SPEC §1 [`LoadSnapshot`].

use super::exec::{Cmd, Executor};
use super::vnode::{sites, Fleet, Layout};
use crate::error::{Error, Result};
use crate::model::{LinkRate, LoadSnapshot, Placement};
use std::collections::BTreeMap;
use std::time::Instant;

/// Raw counters at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    /// CPU nanoseconds used so far, per vnode.
    pub cpu_ns: BTreeMap<String, u64>,
    /// rx + tx bytes so far, per link (topology index), read at one end.
    pub link_bytes: BTreeMap<usize, u64>,
}

/// Parse `/proc/net/dev`: interface → (rx bytes, tx bytes).
pub fn parse_proc_net_dev(text: &str) -> Result<BTreeMap<String, (u64, u64)>> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 16 {
            return Err(Error::Host(format!("/proc/net/dev: short line {line:?}")));
        }
        let num = |s: &str| s.parse::<u64>().map_err(|_| Error::Host(format!("/proc/net/dev: bad number {s:?}")));
        out.insert(name.trim().to_string(), (num(f[0])?, num(f[8])?));
    }
    Ok(out)
}

/// Read every vnode's counters under a placement.
pub fn sample(fleet: &mut Fleet, layout: &Layout, placement: &Placement) -> Result<Sample> {
    let at = sites(layout, placement)?;
    let cg = fleet.paths.cgroups.clone();
    let mut cpu_ns = BTreeMap::new();
    let mut link_bytes = BTreeMap::new();
    for (id, site) in &at {
        let v = &layout.vnodes[id];
        let ex: &mut dyn Executor = fleet.exec(&site.vm)?;
        cpu_ns.insert(id.clone(), cg.cpu_usage_ns(ex, &v.cgroup)?);
        // Each link is read at its `a` end (the vnode listed first).
        let mine: Vec<_> = v.ifaces.iter().filter(|f| layout.links[f.link].0 == *id).collect();
        if mine.is_empty() {
            continue;
        }
        let text = ex.run(&Cmd::new("nsenter").args([format!("--net=/run/netns/{}", site.netns), "cat".into(), "/proc/net/dev".into()]))?;
        let dev = parse_proc_net_dev(&text)?;
        for f in mine {
            let (rx, tx) = dev
                .get(&f.name)
                .copied()
                .ok_or_else(|| Error::Host(format!("vnode {id}: no interface {} in {}", f.name, site.netns)))?;
            link_bytes.insert(f.link, rx + tx);
        }
    }
    Ok(Sample { at: Instant::now(), cpu_ns, link_bytes })
}

/// The load between two samples as a snapshot at virtual time `t`.
/// `dilation` is τ, real seconds per virtual second (1.0: real time), so
/// rates are per *virtual* second. A counter that went down (the vnode was
/// migrated and its counters started again) counts from zero.
pub fn snapshot(prev: &Sample, cur: &Sample, layout: &Layout, t: f64, dilation: f64) -> LoadSnapshot {
    let real = cur.at.duration_since(prev.at).as_secs_f64().max(1e-9);
    let virt = real / dilation.max(1e-9);
    let delta = |a: Option<&u64>, b: u64| match a {
        Some(&a) if b >= a => b - a,
        _ => b,
    };
    let cpu = cur
        .cpu_ns
        .iter()
        .map(|(id, &ns)| (id.clone(), delta(prev.cpu_ns.get(id), ns) as f64 / 1e9 / virt))
        .collect();
    let mbps = cur
        .link_bytes
        .iter()
        .map(|(&i, &b)| {
            let (a, bb, _) = &layout.links[i];
            LinkRate { a: a.clone(), b: bb.clone(), rate: delta(prev.link_bytes.get(&i), b) as f64 * 8.0 / 1e6 / virt }
        })
        .collect();
    LoadSnapshot { t, cpu, mbps }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0:   87880    1252    0    0    0     0          0         0  2945248    1926    0    0    0     0       0          0
";

    #[test]
    fn parses_proc_net_dev() {
        let d = parse_proc_net_dev(DEV).unwrap();
        assert_eq!(d["eth0"], (87880, 2945248));
        assert_eq!(d["lo"], (0, 0));
    }
}
