//! Load sampling on the real testbed: per-vnode CPU from `cpuacct.usage`,
//! per-link traffic from the byte counters of the link's interface inside
//! the vnode's namespace (`/proc/net/dev` read in each namespace; under a
//! bare `nsenter --net`, `/sys/class/net` would show the root namespace's
//! devices). Two samples
//! make a model §1 [`LoadSnapshot`]; with a [`DirtyProbe`], also each
//! vnode's dirty rate ([`super::dirty`]).

use super::dirty::Count;
use super::exec::{Cmd, Executor};
use super::vnode::{sites, Fleet, Layout, Paths};
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
    /// With a [`DirtyProbe`]: per vnode counted, its VM and the bytes it
    /// dirtied since the sample before cleared its bits.
    pub dirty: BTreeMap<String, (String, u64)>,
}

/// `monitor --dirty`: counts soft-dirty pages on the VMs that can
/// ([`super::dirty`]); which can is asked once per machine (its VMs share
/// its kernel), and a machine that cannot is named once on stderr and
/// left out.
#[derive(Debug, Default)]
pub struct DirtyProbe {
    /// Per machine: the netbalance binary there, or `None` if it cannot count.
    binary: BTreeMap<String, Option<String>>,
}

impl DirtyProbe {
    fn binary(&mut self, ex: &mut dyn Executor, vm: &str, paths: &Paths) -> Result<Option<String>> {
        let machine = ex.machine().unwrap_or_else(|| ex.label());
        if let Some(b) = self.binary.get(&machine) {
            return Ok(b.clone());
        }
        let b = if !super::precopy::supported(ex, paths)? {
            crate::info!(
                "netbalance: {vm}: its kernel has no soft-dirty tracking (criu check --feature mem_dirty_track): \
                 no dirty rates from it (nor from the other VMs of its machine)"
            );
            None
        } else {
            let b = paths.keeper_on(ex)?;
            if b.is_none() {
                crate::info!(
                    "netbalance: {vm}: no netbalance binary there to count dirty pages: no dirty rates from it"
                );
            }
            b
        };
        self.binary.insert(machine, b.clone());
        Ok(b)
    }

    /// Count and clear the soft-dirty pages of vnodes `ids` on `vm`: the
    /// bytes each dirtied since the last count (not those whose pre-copy
    /// rounds run, nor those without a process). One command.
    fn count(
        &mut self,
        ex: &mut dyn Executor,
        vm: &str,
        paths: &Paths,
        layout: &Layout,
        ids: &[&str],
    ) -> Result<BTreeMap<String, u64>> {
        let Some(bin) = self.binary(ex, vm, paths)? else {
            return Ok(BTreeMap::new());
        };
        let driver = paths.cgroups.driver(ex)?;
        let mut cmd = Cmd::new(bin).args([
            "dirty".into(),
            "--lock-dir".into(),
            paths.state_root.display().to_string(),
        ]);
        for id in ids {
            let cg = &layout.vnodes[*id].cgroup;
            cmd = cmd
                .arg(driver.freezer_dir(cg).join("cgroup.procs").display().to_string())
                .arg(super::precopy::dir(paths, cg).display().to_string());
        }
        let out = ex.output(&cmd)?;
        if !out.success() {
            return Err(Error::host_op(
                ex.label(),
                "counting dirty pages",
                out.stderr_str().trim().to_string(),
            ));
        }
        let text = out.stdout_str();
        let counts: Vec<Count> = text
            .lines()
            .map(Count::parse)
            .collect::<Option<_>>()
            .unwrap_or_default();
        if counts.len() != ids.len() {
            return Err(Error::Host(format!(
                "{}: netbalance dirty answered {text:?} for {} vnode(s)",
                ex.label(),
                ids.len()
            )));
        }
        Ok(ids
            .iter()
            .zip(counts)
            .filter_map(|(id, c)| match c {
                Count::Pages { pages, page_size } => Some((id.to_string(), pages * page_size)),
                Count::Busy | Count::Empty => None,
            })
            .collect())
    }
}

/// Parse `/proc/net/dev`: interface → (rx bytes, tx bytes).
pub fn parse_proc_net_dev(text: &str) -> Result<BTreeMap<String, (u64, u64)>> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 16 {
            return Err(Error::Host(format!("/proc/net/dev: short line {line:?}")));
        }
        let num = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| Error::Host(format!("/proc/net/dev: bad number {s:?}")))
        };
        out.insert(name.trim().to_string(), (num(f[0])?, num(f[8])?));
    }
    Ok(out)
}

/// Per interface name, (received, transmitted) bytes.
pub type IfaceBytes = BTreeMap<String, (u64, u64)>;

/// Split `netns: NAME` + /proc/net/dev sections (also the output of `ip -all netns exec cat /proc/net/dev`).
pub fn parse_all_netns(text: &str) -> Result<BTreeMap<String, IfaceBytes>> {
    let mut out = BTreeMap::new();
    let mut name: Option<&str> = None;
    let mut body = String::new();
    let flush = |name: Option<&str>, body: &mut String, out: &mut BTreeMap<_, _>| -> Result<()> {
        if let Some(n) = name {
            out.insert(n.to_string(), parse_proc_net_dev(body)?);
        }
        body.clear();
        Ok(())
    };
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("netns: ") {
            flush(name, &mut body, &mut out)?;
            name = Some(n.trim());
        } else if name.is_some() && !line.trim().is_empty() {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(name, &mut body, &mut out)?;
    Ok(out)
}

/// Prints `netns: NAME` and that namespace's /proc/net/dev for each
/// namespace named in the positional parameters (names are data, never code).
const NET_DEV_SCRIPT: &str = r#"for n; do echo "netns: $n"; nsenter --net="/run/netns/$n" cat /proc/net/dev; done"#;

/// Read every vnode's counters under a placement: per VM, one `grep -H` of
/// the vnodes' `cpuacct.usage` files and one shell loop of `nsenter --net=…
/// cat /proc/net/dev` over its namespaces (two commands per VM, whatever the
/// number of vnodes).
pub fn sample(fleet: &mut Fleet, layout: &Layout, placement: &Placement) -> Result<Sample> {
    sample_with(fleet, layout, placement, None)
}

/// [`sample`], and with `dirty` each vnode's dirtied bytes (one more
/// command per VM).
pub fn sample_with(
    fleet: &mut Fleet,
    layout: &Layout,
    placement: &Placement,
    mut dirty: Option<&mut DirtyProbe>,
) -> Result<Sample> {
    let at = sites(layout, placement)?;
    let paths = fleet.paths.clone();
    let mut dirtied = BTreeMap::new();
    let mut by_vm: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, site) in &at {
        by_vm.entry(&site.vm).or_default().push(id);
    }
    let mut cpu_ns = BTreeMap::new();
    let mut link_bytes = BTreeMap::new();
    for (vm, ids) in by_vm {
        let ex: &mut dyn Executor = fleet.exec(vm)?;
        let driver = paths.cgroups.driver(ex)?;
        let files: Vec<String> = ids
            .iter()
            .map(|id| driver.usage_file(&layout.vnodes[*id].cgroup).display().to_string())
            .collect();
        let out = ex.output(&Cmd::new("grep").args(["-H", "--", ""]).args(files.iter().cloned()))?;
        let text = out.stdout_str();
        let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for l in text.lines() {
            // `FILE:LINE`; the files are ours (no ':' in them).
            if let Some((f, v)) = l.split_once(':') {
                values.entry(f).or_default().push(v);
            }
        }
        for (id, f) in ids.iter().zip(&files) {
            let v = values.get(f.as_str()).ok_or_else(|| {
                Error::Host(format!(
                    "{}: vnode {id}: cannot read {f}: {}",
                    ex.label(),
                    out.stderr_str().trim()
                ))
            })?;
            let ns: u64 = driver
                .parse_usage_ns(v)
                .ok_or_else(|| Error::Host(format!("{}: {f}: no CPU usage in {v:?}", ex.label())))?;
            cpu_ns.insert(id.to_string(), ns);
        }
        if let Some(probe) = dirty.as_deref_mut() {
            for (id, bytes) in probe.count(ex, vm, &paths, layout, &ids)? {
                dirtied.insert(id, (vm.to_string(), bytes));
            }
        }
        // Each link is read at its `a` end (the vnode listed first).
        let wanted: Vec<(&str, usize, &str)> = ids
            .iter()
            .flat_map(|id| {
                let v = &layout.vnodes[*id];
                v.ifaces
                    .iter()
                    .filter(move |f| layout.links[f.link].0 == **id)
                    .map(move |f| (*id, f.link, f.name.as_str()))
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let mut netns: Vec<&str> = wanted.iter().map(|(id, _, _)| at[*id].netns.as_str()).collect();
        netns.dedup();
        let out = ex.output(
            &Cmd::new("sh")
                .args(["-c", NET_DEV_SCRIPT, "netbalance-monitor"])
                .args(netns.iter().copied()),
        )?;
        let all = parse_all_netns(&out.stdout_str())?;
        for (id, link, ifname) in wanted {
            let ns = &at[id].netns;
            let (rx, tx) = all.get(ns).and_then(|d| d.get(ifname)).copied().ok_or_else(|| {
                Error::Host(format!(
                    "{}: vnode {id}: no interface {ifname} in namespace {ns}",
                    ex.label()
                ))
            })?;
            link_bytes.insert(link, rx + tx);
        }
    }
    Ok(Sample {
        at: Instant::now(),
        cpu_ns,
        link_bytes,
        dirty: dirtied,
    })
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
            LinkRate {
                a: a.clone(),
                b: bb.clone(),
                rate: delta(prev.link_bytes.get(&i), b) as f64 * 8.0 / 1e6 / virt,
            }
        })
        .collect();
    // The first count of a vnode on a VM covers an unknown time (since
    // whatever cleared its bits last, or its restore there): not a rate.
    let dirty_mb_s = cur
        .dirty
        .iter()
        .filter(|(id, (vm, _))| prev.dirty.get(*id).is_some_and(|(before, _)| before == vm))
        .map(|(id, (_, bytes))| (id.clone(), *bytes as f64 / (1024.0 * 1024.0) / real))
        .collect();
    LoadSnapshot {
        t,
        cpu,
        mbps,
        dirty_mb_s,
    }
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
    fn parses_all_namespaces() {
        let text = format!("\nnetns: nbA\n{DEV}\nnetns: nbB\n{DEV}");
        let all = parse_all_netns(&text).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["nbB"]["eth0"], (87880, 2945248));
    }

    #[test]
    fn a_dirty_rate_needs_two_counts_on_one_vm() {
        let topo = crate::model::Topology {
            vnodes: vec![
                crate::model::Vnode::new("a"),
                crate::model::Vnode::new("b"),
                crate::model::Vnode::new("c"),
            ],
            links: vec![],
        };
        let layout = Layout::new(&topo).unwrap();
        let at = Instant::now();
        let sample = |secs: u64, dirty: &[(&str, &str, u64)]| Sample {
            at: at + std::time::Duration::from_secs(secs),
            cpu_ns: BTreeMap::new(),
            link_bytes: BTreeMap::new(),
            dirty: dirty
                .iter()
                .map(|(id, vm, b)| (id.to_string(), (vm.to_string(), *b)))
                .collect(),
        };
        let prev = sample(0, &[("a", "v0", 1 << 30), ("b", "v0", 1 << 30)]);
        // a: 4 MiB in 2 s; b moved to v1 (its first count there); c: first count.
        let cur = sample(2, &[("a", "v0", 4 << 20), ("b", "v1", 8 << 20), ("c", "v0", 1 << 20)]);
        let snap = snapshot(&prev, &cur, &layout, 2.0, 4.0);
        assert_eq!(
            snap.dirty_mb_s,
            BTreeMap::from([("a".to_string(), 2.0)]),
            "real seconds, whatever τ"
        );
        let line = serde_json::to_string(&snap).unwrap();
        assert!(line.contains(r#""dirty_mb_s":{"a":2.0}"#), "{line}");
        let none = snapshot(&prev, &sample(2, &[]), &layout, 2.0, 1.0);
        assert!(
            !serde_json::to_string(&none).unwrap().contains("dirty"),
            "the field only where measured"
        );
    }

    #[test]
    fn parses_proc_net_dev() {
        let d = parse_proc_net_dev(DEV).unwrap();
        assert_eq!(d["eth0"], (87880, 2945248));
        assert_eq!(d["lo"], (0, 0));
    }
}
