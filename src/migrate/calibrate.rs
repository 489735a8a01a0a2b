//! `calibrate`: measure the migration phases on the real testbed and turn
//! them into a costs profile (model §3's constants).
//!
//! A probe vnode holding a known amount of memory (a shell variable of that
//! size: no interpreter needed on the VM) is deployed on one VM with one link
//! to an anchor vnode, migrated to another VM by the protocol `migrate` runs
//! ([`super::move_one`]: engine, testbed driver, journal), and removed; this
//! is repeated for each size. Per-MB figures are least-squares slopes over the measured
//! image sizes; the fixed part of snapshot, transfer and restore (their
//! intercepts) is `checkpoint_ms`, paid by every move of a vnode with
//! state. A vnode without state (no `run`, no memory) and with four links
//! is moved too, alone and four at once (between local VMs on as many VM
//! pairs at once as the testbed has `local_cpus`): the time each one adds
//! is `reattach_ms`, paid by every move.
//! So the model's T_r of a move matches the measured one, with or without
//! state. With the testbed's `migration` post-copy or pre-copy, the same
//! probes are moved in that mode too, for its constants (model §3.1:
//! post-copy's state dump and restore, pre-copy's `round_fraction`). The
//! [`Breakdown`] states every phase apart, beside the paper's Table 1.

use super::move_one;
use crate::error::{Error, Result};
use crate::model::{Costs, Link, MigrationMode, Placement, Testbed, Topology, Vnode};
use crate::state::StateDir;
use crate::testbed::{deploy, teardown, Fleet, Layout, MigrationTimes};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The `run` line of the probe: allocate and touch `bytes` of memory, say
/// so, and wait on a FIFO it holds open itself. One process, no children:
/// the dump leaves no orphans for pid 1 to reap (see docs/testbed.md).
pub fn memory_holder(bytes: u64) -> String {
    format!(
        "rm -f hold; mkfifo hold && exec 3<>hold && x=$(head -c {bytes} /dev/zero | tr '\\0' a) && echo ready >ready && read y <&3"
    )
}

/// What one calibration pair measured.
#[derive(Debug, Clone, Serialize)]
pub struct PairResult {
    pub from: String,
    pub to: String,
    /// "host" (two VMs of one host) or "net" (two hosts).
    pub class: String,
    /// How the images went in these runs (`direct`, `ssh`, `local`, or
    /// `mixed` if the runs differ): the transfer figure is for this path.
    pub via: String,
    pub runs: Vec<MigrationTimes>,
    /// What a move of a vnode without state (no `run`, no memory) and
    /// [`LINKS_ONLY_PEERS`] links adds to a migration, seconds ([`measure_links_only`]).
    pub links_only_s: Vec<f64>,
    /// The same probes moved post-copy (model §3.1), when the testbed's
    /// `migration` asks for it: the fastest run of each size.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_copy_runs: Vec<MigrationTimes>,
    /// The same probes moved pre-copy, when the testbed's `migration` asks
    /// for it: the fastest run of each size.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_copy_runs: Vec<MigrationTimes>,
}

/// Links of the links-only probe: a vnode of a grid has four.
pub const LINKS_ONLY_PEERS: usize = 4;
/// Links-only probes moved at once for the marginal time of a move.
pub const LINKS_ONLY_BATCH: usize = 4;

/// The transfer path the runs took: one name if all agree, else `mixed`.
pub fn via_of(runs: &[MigrationTimes]) -> String {
    let mut names: Vec<&str> = runs.iter().map(|t| t.transfer_via.name()).collect();
    names.dedup();
    match names[..] {
        [] => "none".into(),
        [one] => one.into(),
        _ => "mixed".into(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub costs: Costs,
    pub pairs: Vec<PairResult>,
    /// Each phase on its own, beside the paper's Table 1.
    pub breakdown: Breakdown,
}

/// One row of [`Breakdown`]: a phase's measured figure and the paper's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFigure {
    pub phase: String,
    /// `ms/MB` (per MB of CRIU image), `ms/vnode` (per migrated vnode) or
    /// `ms/move` (a fixed part of a per-MB phase: its intercept).
    pub unit: String,
    pub measured: f64,
    /// The paper's Table 1 (model §3), where it has the figure.
    pub paper: Option<f64>,
}

/// The phases of a move measured separately: per-MB slopes and their fixed
/// parts (intercepts) apart, unlike the costs profile, whose `reattach_ms`
/// carries the fixed parts so that the model's T_r matches the moves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub rows: Vec<PhaseFigure>,
}

impl Breakdown {
    /// The rows as an aligned text table (for stderr and docs).
    pub fn table(&self) -> String {
        let mut out = format!("{:<46} {:>9} {:>10} {:>8}\n", "phase", "unit", "measured", "Table 1");
        for r in &self.rows {
            let paper = r.paper.map(|p| format!("{p:.1}")).unwrap_or_else(|| "-".into());
            // A noisy fit of ~0 prints as 0.0, not "-0.0".
            let measured = if r.measured.abs() < 0.05 { 0.0 } else { r.measured };
            // A share (0..1) needs its digits.
            let measured = match r.unit.as_str() {
                "share" => format!("{:.3}", r.measured),
                _ => format!("{measured:.1}"),
            };
            out.push_str(&format!(
                "{:<46} {:>9} {:>10} {:>8}\n",
                r.phase, r.unit, measured, paper
            ));
        }
        out
    }

    pub fn get(&self, phase: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.phase == phase).map(|r| r.measured)
    }
}

/// Each phase apart: least-squares slope (ms/MB) and intercept (ms/move)
/// of snapshot, transfer (per class) and restore over the image sizes;
/// means of the per-vnode phases; and the profile's `reattach_ms` (links
/// plus the fixed parts) for comparison. O(runs).
pub fn breakdown(pairs: &[PairResult], profile: &Costs) -> Breakdown {
    let paper = Costs::default();
    let all: Vec<&MigrationTimes> = pairs.iter().flat_map(|p| p.runs.iter()).collect();
    let mb = |t: &MigrationTimes| t.image_bytes as f64 / (1024.0 * 1024.0);
    let ms = |s: f64| s * 1000.0;
    let n = all.len().max(1) as f64;
    let mean = |f: &dyn Fn(&MigrationTimes) -> f64| all.iter().map(|t| f(t)).sum::<f64>() / n;
    let line = |f: &dyn Fn(&MigrationTimes) -> f64| fit(&all.iter().map(|t| (mb(t), ms(f(t)))).collect::<Vec<_>>());
    let row = |phase: &str, unit: &str, measured: f64, paper: Option<f64>| PhaseFigure {
        phase: phase.into(),
        unit: unit.into(),
        measured,
        paper,
    };
    let (snap, snap0) = line(&|t| t.snapshot_s);
    let (rest, rest0) = line(&|t| t.restore_s);
    let mut rows = vec![
        row(
            "suspend",
            "ms/vnode",
            mean(&|t| ms(t.suspend_s)),
            Some(paper.suspend_ms),
        ),
        row("snapshot (criu dump)", "ms/MB", snap, Some(paper.snapshot_ms_per_mb)),
        row("snapshot, fixed part", "ms/move", snap0, None),
        row("reap (pids free again)", "ms/move", mean(&|t| ms(t.reap_s)), None),
    ];
    for p in pairs {
        let (tr, tr0) = fit(&p.runs.iter().map(|t| (mb(t), ms(t.transfer_s))).collect::<Vec<_>>());
        let (class, paper_tr) = match p.class.as_str() {
            "host" => ("transfer, same host", paper.transfer_ms_per_mb.host),
            _ => ("transfer, other host", paper.transfer_ms_per_mb.net),
        };
        // Between machines the path is part of the figure's name.
        let name = match p.via.as_str() {
            "direct" => format!("{class} (direct TCP)"),
            "ssh" => format!("{class} (tar over SSH)"),
            "mixed" => format!("{class} (mixed paths)"),
            _ => class.to_string(),
        };
        let name = name.as_str();
        rows.push(row(name, "ms/MB", tr, Some(paper_tr)));
        rows.push(row(&format!("{name}, fixed part"), "ms/move", tr0, None));
    }
    rows.extend([
        row("restore (criu restore)", "ms/MB", rest, Some(paper.restore_ms_per_mb)),
        row("restore, fixed part", "ms/move", rest0, None),
        row(
            "reattach (namespace + links)",
            "ms/vnode",
            mean(&|t| ms(t.reattach_s)),
            Some(paper.reattach_ms),
        ),
        row("resume", "ms/vnode", mean(&|t| ms(t.resume_s)), Some(paper.resume_ms)),
    ]);
    let links_only: Vec<f64> = pairs.iter().flat_map(|p| p.links_only_s.iter().copied()).collect();
    if links_only.is_empty() {
        rows.push(row(
            "profile reattach_ms (+ fixed parts)",
            "ms/vnode",
            profile.reattach_ms,
            Some(paper.reattach_ms),
        ));
    } else {
        let name = format!("links-only move ({LINKS_ONLY_PEERS} links), marginal");
        rows.push(row(
            &name,
            "ms/move",
            ms(links_only.iter().sum::<f64>() / links_only.len() as f64),
            None,
        ));
        rows.push(row(
            "profile checkpoint_ms (fixed parts)",
            "ms/move",
            profile.checkpoint_ms,
            None,
        ));
        rows.push(row(
            "profile reattach_ms (links-only move)",
            "ms/vnode",
            profile.reattach_ms,
            Some(paper.reattach_ms),
        ));
    }
    if let Some(post) = ModeRuns::of(pairs, |p| &p.post_copy_runs) {
        rows.extend([
            row(
                "post-copy: pause (suspend to resume)",
                "ms/move",
                post.mean_ms(|t| t.pause_s),
                None,
            ),
            row(
                "profile post_copy.state_dump_ms",
                "ms/move",
                profile.post_copy.state_dump_ms,
                None,
            ),
            row(
                "profile post_copy.state_restore_ms",
                "ms/move",
                profile.post_copy.state_restore_ms,
                None,
            ),
            row(
                "post-copy: pages arriving after the resume",
                "ms/move",
                post.mean_ms(|t| t.pages_s),
                None,
            ),
        ]);
    }
    if let Some(pre) = ModeRuns::of(pairs, |p| &p.pre_copy_runs) {
        rows.extend([
            row(
                "pre-copy: pause (suspend to resume)",
                "ms/move",
                pre.mean_ms(|t| t.pause_s),
                None,
            ),
            row(
                "pre-copy: rounds ahead of the pause",
                "ms/move",
                pre.mean_ms(|t| t.pre_copy_s),
                None,
            ),
            row(
                "profile pre_copy.round_fraction",
                "share",
                profile.pre_copy.round_fraction,
                None,
            ),
        ]);
    }
    Breakdown { rows }
}

/// Every pair's runs in one mode (none: `None`).
struct ModeRuns<'a>(Vec<&'a MigrationTimes>);

impl<'a> ModeRuns<'a> {
    fn of(pairs: &'a [PairResult], runs: impl Fn(&'a PairResult) -> &'a Vec<MigrationTimes>) -> Option<ModeRuns<'a>> {
        let runs: Vec<&MigrationTimes> = pairs.iter().flat_map(runs).collect();
        (!runs.is_empty()).then_some(ModeRuns(runs))
    }

    /// The CPU the pre-copy rounds took over their time, all runs together
    /// (model §3.1's `round_fraction`); `None` if no run measured it.
    fn round_fraction(&self) -> Option<f64> {
        let measured: Vec<&&MigrationTimes> = self.0.iter().filter(|t| t.pre_copy_cpu_s.is_some()).collect();
        let s: f64 = measured.iter().map(|t| t.pre_copy_s).sum();
        let cpu: f64 = measured.iter().filter_map(|t| t.pre_copy_cpu_s).sum();
        (s > 0.0).then(|| (cpu / s).min(1.0))
    }

    /// The mean of a figure in seconds, in ms.
    fn mean_ms(&self, f: impl Fn(&MigrationTimes) -> f64) -> f64 {
        self.0.iter().map(|t| f(t) * 1000.0).sum::<f64>() / self.0.len() as f64
    }
}

/// Least-squares line through (x, y): (slope, intercept). One point: through the origin.
pub fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    if points.is_empty() {
        return (0.0, 0.0);
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if points.len() < 2 || sxx < 1e-12 {
        return (if mx > 0.0 { my / mx } else { 0.0 }, 0.0);
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// Migrate a probe of each size from `from` to `to` (each probe deployed
/// fresh, removed after), journalling the moves into `state`.
pub fn measure_pair(
    fleet: &mut Fleet,
    testbed: &Testbed,
    state: &StateDir,
    (from, to): (&str, &str),
    sizes_mb: &[f64],
) -> Result<Vec<MigrationTimes>> {
    let mut runs = Vec::new();
    for (i, &mb) in sizes_mb.iter().enumerate() {
        let tag = format!("nbcal{}x{i}", std::process::id());
        let (p, a) = (format!("{tag}p"), format!("{tag}a"));
        let mut probe = Vnode::new(&p);
        probe.memory_mb = mb;
        probe.run = Some(memory_holder((mb * 1024.0 * 1024.0) as u64));
        let topo = Topology {
            vnodes: vec![probe, Vnode::new(&a)],
            links: vec![Link::new(&p, &a, 0.0)],
        };
        let layout = Layout::new(&topo)?;
        let mut placement = Placement::default();
        placement.vm_of.insert(p.clone(), from.to_string());
        placement.vm_of.insert(a.clone(), from.to_string());
        let result = (|| -> Result<MigrationTimes> {
            deploy(fleet, &layout, &placement)?;
            let ready = fleet.paths.vnode_dir(&layout.vnodes[&p].cgroup).join("ready");
            let t0 = Instant::now();
            let ex = fleet.exec(from)?;
            while !ex.is_dry_run() && !ex.exists(&ready)? {
                if t0.elapsed() > Duration::from_secs(60) {
                    return Err(Error::Host(format!(
                        "calibration probe of {mb} MB on {from} never became ready"
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            move_one(fleet, &topo, testbed, &mut placement, &p, to, state)
        })();
        let cleanup = teardown(fleet, &layout, &placement);
        let t = result?;
        cleanup?;
        runs.push(t);
    }
    Ok(runs)
}

/// The time one more move of a vnode without state and with
/// [`LINKS_ONLY_PEERS`] links adds to a migration from `from` to `to`
/// (its peers stay on `from`), seconds: migrations of one and of
/// [`LINKS_ONLY_BATCH`] such vnodes, the difference per extra vnode (a
/// migration's own fixed work, its journal and plan, is paid once however
/// many vnodes move). The fastest of `repeats` each.
///
/// Between local VMs the moves run side by side as `migrate` runs them: on
/// each of the [`streams`] at once, and the time per move is the marginal
/// wall time times the number of streams, the share of this machine one
/// move takes (the model divides the local moves' sum by `local_cpus`
/// again). So what the moves do not gain from running side by side (the
/// kernel takes one lock for every link change, whatever the namespace) is
/// in the figure.
pub fn measure_links_only(
    fleet: &mut Fleet,
    testbed: &Testbed,
    state: &StateDir,
    (from, to): (&str, &str),
    repeats: usize,
) -> Result<f64> {
    let streams = streams(testbed, from, to);
    let mut best = [f64::INFINITY; 2];
    for i in 0..repeats.max(1) {
        for (j, k) in [1, LINKS_ONLY_BATCH].into_iter().enumerate() {
            let tag = format!("nbcal{}l{i}b{k}", std::process::id());
            let mut topo = Topology::default();
            let mut placement = Placement::default();
            let mut moves = Vec::new();
            for (s, (src, dst)) in streams.iter().enumerate() {
                for q in 0..k {
                    let p = format!("{tag}s{s}p{q}");
                    let mut probe = Vnode::new(&p);
                    probe.memory_mb = 0.0;
                    topo.vnodes.push(probe);
                    placement.vm_of.insert(p.clone(), src.clone());
                    for l in 0..LINKS_ONLY_PEERS {
                        let a = format!("{p}a{l}");
                        topo.vnodes.push(Vnode::new(&a));
                        topo.links.push(Link::new(&p, &a, 100.0));
                        placement.vm_of.insert(a, src.clone());
                    }
                    moves.push((p, dst.as_str()));
                }
            }
            let layout = Layout::new(&topo)?;
            let moves: Vec<(&str, &str)> = moves.iter().map(|(p, dst)| (p.as_str(), *dst)).collect();
            let result = deploy(fleet, &layout, &placement)
                .and_then(|_| super::move_some(fleet, &topo, testbed, &mut placement, &moves, state));
            let cleanup = teardown(fleet, &layout, &placement);
            let (t, _) = result?;
            cleanup?;
            best[j] = best[j].min(t);
        }
    }
    let extra_moves = ((LINKS_ONLY_BATCH - 1) * streams.len()) as f64;
    Ok(((best[1] - best[0]) / extra_moves * streams.len() as f64).max(0.0))
}

/// The VM pairs [`measure_links_only`] moves probes between at once:
/// `(from, to)`, and where both are local VMs and the testbed's
/// `local_cpus` is more than one, further pairs of distinct local VMs (no
/// VM in two pairs, so no move waits for another), up to `local_cpus`
/// pairs in all. O(V).
pub fn streams(testbed: &Testbed, from: &str, to: &str) -> Vec<(String, String)> {
    let vms: Vec<&crate::model::Vm> = testbed.hosts.iter().flat_map(|h| &h.vms).collect();
    let local = |name: &str| vms.iter().any(|vm| vm.name == name && vm.ssh.is_none());
    let mut out = vec![(from.to_string(), to.to_string())];
    let cpus = testbed.local_cpus.unwrap_or(1) as usize;
    if !(local(from) && local(to)) {
        return out;
    }
    let mut free = vms
        .iter()
        .filter(|vm| vm.ssh.is_none() && vm.name != from && vm.name != to)
        .map(|vm| vm.name.clone());
    while out.len() < cpus {
        match (free.next(), free.next()) {
            (Some(a), Some(b)) => out.push((a, b)),
            _ => break,
        }
    }
    out
}

/// Turn measured runs into costs, starting from `base` (figures not
/// measured are kept: `cpu_per_mbit`, and the transfer class not measured).
pub fn costs_from(base: &Costs, pairs: &[PairResult]) -> Costs {
    let mut c = base.clone();
    let all: Vec<&MigrationTimes> = pairs.iter().flat_map(|p| p.runs.iter()).collect();
    if all.is_empty() {
        return c;
    }
    let mb = |t: &MigrationTimes| t.image_bytes as f64 / (1024.0 * 1024.0);
    let ms = |s: f64| s * 1000.0;
    let mean = |f: &dyn Fn(&MigrationTimes) -> f64| all.iter().map(|t| f(t)).sum::<f64>() / all.len() as f64;
    let (snap, snap0) = fit(&all
        .iter()
        .map(|t| (mb(t), ms(t.snapshot_s + t.reap_s)))
        .collect::<Vec<_>>());
    let (rest, rest0) = fit(&all.iter().map(|t| (mb(t), ms(t.restore_s))).collect::<Vec<_>>());
    let mut fixed = snap0.max(0.0) + rest0.max(0.0);
    let mut transfer_fixed = Vec::new();
    for p in pairs {
        let (tr, tr0) = fit(&p.runs.iter().map(|t| (mb(t), ms(t.transfer_s))).collect::<Vec<_>>());
        match p.class.as_str() {
            "host" => c.transfer_ms_per_mb.host = tr.max(0.0),
            _ => c.transfer_ms_per_mb.net = tr.max(0.0),
        }
        transfer_fixed.push(tr0.max(0.0));
    }
    fixed += transfer_fixed.iter().sum::<f64>() / transfer_fixed.len().max(1) as f64;
    c.suspend_ms = mean(&|t| ms(t.suspend_s));
    c.snapshot_ms_per_mb = snap.max(0.0);
    c.restore_ms_per_mb = rest.max(0.0);
    let links_only: Vec<f64> = pairs.iter().flat_map(|p| p.links_only_s.iter().copied()).collect();
    let where_fixed = if links_only.is_empty() {
        // No links-only move measured: the fixed parts go with the links.
        c.reattach_ms = mean(&|t| ms(t.reattach_s)) + fixed;
        "fixed parts in reattach_ms"
    } else {
        c.checkpoint_ms = fixed;
        c.reattach_ms = ms(links_only.iter().sum::<f64>() / links_only.len() as f64);
        "fixed parts in checkpoint_ms, reattach_ms the time a links-only move adds"
    };
    c.resume_ms = mean(&|t| ms(t.resume_s));
    let post = ModeRuns::of(pairs, |p| &p.post_copy_runs);
    if let Some(post) = &post {
        // The pause beyond the lazy dump, its suspend, links and resume: the
        // lazy-pages daemon's start and the restore.
        c.post_copy.state_dump_ms = post.mean_ms(|t| t.snapshot_s);
        c.post_copy.state_restore_ms =
            post.mean_ms(|t| (t.pause_s - t.suspend_s - t.snapshot_s - t.reattach_s - t.resume_s).max(t.restore_s));
    }
    let pre = ModeRuns::of(pairs, |p| &p.pre_copy_runs);
    let pre_note = match &pre {
        None => String::new(),
        Some(p) => match p.round_fraction() {
            Some(f) => {
                c.pre_copy.round_fraction = f;
                format!(
                    "; pre_copy.round_fraction from {} pre-copy move(s): the CPU outside the vnodes on the \
                     busier VM over the rounds' time; dirty_mb_s kept (a vnode's own: `migrate -v` measures \
                     each move's), max_rounds and stop_mb are settings",
                    p.0.len()
                )
            }
            None => format!(
                "; {} pre-copy move(s), but no CPU figure: pre_copy.round_fraction kept",
                p.0.len()
            ),
        },
    };
    c.source = Some(format!(
        "netbalance calibrate: {} migration(s) ({}); per-MB slopes over CRIU image sizes, {where_fixed}{}{pre_note}",
        all.len(),
        pairs
            .iter()
            .map(|p| format!("{} {}->{} (transfer: {})", p.class, p.from, p.to, p.via))
            .collect::<Vec<_>>()
            .join(", "),
        match &post {
            None => String::new(),
            Some(p) => {
                let (faulted, lazy) =
                    p.0.iter()
                        .fold((0, 0), |(f, l), t| (f + t.faulted_pages, l + t.lazy_pages));
                format!(
                    "; post_copy from {} post-copy move(s); fault_fraction kept: the probes pulled {faulted} of \
                     their {lazy} lazy pages on demand, but they touch no memory after a move (a vnode's own \
                     fraction: `migrate -v` measures each move)",
                    p.0.len()
                )
            }
        }
    ));
    c
}

/// The VM pairs to measure: two VMs of one host ("host") and the first VMs
/// of two hosts ("net"), where the testbed has them.
pub fn pairs_of(testbed: &Testbed) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if let Some(h) = testbed.hosts.iter().find(|h| h.vms.len() >= 2) {
        out.push((h.vms[0].name.clone(), h.vms[1].name.clone(), "host".to_string()));
    }
    if testbed.hosts.len() >= 2 {
        out.push((
            testbed.hosts[0].vms[0].name.clone(),
            testbed.hosts[1].vms[0].name.clone(),
            "net".to_string(),
        ));
    }
    out
}

/// The run with the shortest pause (post-copy: its phases belong together).
pub fn fastest_pause(runs: &[MigrationTimes]) -> Option<MigrationTimes> {
    runs.iter().min_by(|a, b| a.pause_s.total_cmp(&b.pause_s)).cloned()
}

/// The fastest of repeated runs, phase by phase (load spikes only ever add time).
pub fn fastest(runs: &[MigrationTimes]) -> Option<MigrationTimes> {
    let mut it = runs.iter();
    let mut m = it.next()?.clone();
    for r in it {
        m.suspend_s = m.suspend_s.min(r.suspend_s);
        m.snapshot_s = m.snapshot_s.min(r.snapshot_s);
        m.reap_s = m.reap_s.min(r.reap_s);
        m.transfer_s = m.transfer_s.min(r.transfer_s);
        m.reattach_s = m.reattach_s.min(r.reattach_s);
        m.restore_s = m.restore_s.min(r.restore_s);
        m.resume_s = m.resume_s.min(r.resume_s);
        m.total_s = m.total_s.min(r.total_s);
    }
    Some(m)
}

/// Measure every pair of [`pairs_of`] with each size, `repeats` times (the
/// fastest run of each size counts), and build the profile. The moves are
/// journalled in `state` (a failed one that could not be put back stays
/// open there for `netbalance migrate --resume`).
pub fn calibrate(
    fleet: &mut Fleet,
    testbed: &Testbed,
    sizes_mb: &[f64],
    repeats: usize,
    base: &Costs,
    state: &StateDir,
) -> Result<Calibration> {
    // The profile's stop-and-copy figures come from stop-and-copy moves
    // whatever the testbed's mode; post-copy or pre-copy is measured besides.
    let stop_copy = Testbed {
        migration: Some(MigrationMode::StopCopy),
        ..testbed.clone()
    };
    let mut pairs = Vec::new();
    for (from, to, class) in pairs_of(testbed) {
        let mut runs = Vec::new();
        for &mb in sizes_mb {
            let reps = measure_pair(fleet, &stop_copy, state, (&from, &to), &vec![mb; repeats.max(1)])?;
            runs.extend(fastest(&reps));
        }
        let via = via_of(&runs);
        let links_only_s = vec![measure_links_only(fleet, &stop_copy, state, (&from, &to), repeats)?];
        let mut mode_runs = Vec::new();
        if testbed.migration.is_some_and(|m| m != MigrationMode::StopCopy) {
            for &mb in sizes_mb {
                let reps = measure_pair(fleet, testbed, state, (&from, &to), &vec![mb; repeats.max(1)])?;
                mode_runs.extend(fastest_pause(&reps));
            }
        }
        let (post_copy_runs, pre_copy_runs) = match testbed.migration {
            Some(MigrationMode::PostCopy) => (mode_runs, Vec::new()),
            Some(MigrationMode::PreCopy) => (Vec::new(), mode_runs),
            _ => (Vec::new(), Vec::new()),
        };
        pairs.push(PairResult {
            from,
            to,
            class,
            via,
            runs,
            links_only_s,
            post_copy_runs,
            pre_copy_runs,
        });
    }
    if pairs.is_empty() {
        return Err(Error::usage("calibrate needs a testbed with two VMs"));
    }
    let costs = costs_from(base, &pairs);
    let breakdown = breakdown(&pairs, &costs);
    Ok(Calibration {
        costs,
        pairs,
        breakdown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_line() {
        let (s, i) = fit(&[(1.0, 12.0), (3.0, 16.0), (5.0, 20.0)]);
        assert!((s - 2.0).abs() < 1e-9 && (i - 10.0).abs() < 1e-9);
        assert_eq!(fit(&[(4.0, 8.0)]), (2.0, 0.0));
        assert_eq!(fit(&[]), (0.0, 0.0));
    }

    #[test]
    fn memory_holder_is_one_safe_line() {
        let l = memory_holder(1024);
        assert!(l.contains("x=$(head -c 1024 /dev/zero | tr '\\0' a)"), "{l}");
    }

    #[test]
    fn breakdown_keeps_fixed_parts_apart() {
        let run = |mb: f64, snap: f64, rest: f64| MigrationTimes {
            image_bytes: (mb * 1048576.0) as u64,
            suspend_s: 0.004,
            snapshot_s: snap,
            reap_s: 0.001,
            restore_s: rest,
            reattach_s: 0.05,
            resume_s: 0.002,
            ..Default::default()
        };
        // snapshot = 30 ms + 5 ms/MB, restore = 20 ms + 2 ms/MB, no transfer (one machine).
        let pairs = vec![PairResult {
            from: "a".into(),
            to: "b".into(),
            class: "host".into(),
            via: "local".into(),
            runs: vec![run(4.0, 0.050, 0.028), run(64.0, 0.350, 0.148)],
            links_only_s: Vec::new(),
            post_copy_runs: Vec::new(),
            pre_copy_runs: Vec::new(),
        }];
        let costs = costs_from(&Costs::default(), &pairs);
        let b = breakdown(&pairs, &costs);
        let near = |k: &str, v: f64| {
            assert!(
                (b.get(k).unwrap() - v).abs() < 1e-6,
                "{k}: {:?} vs {v}\n{}",
                b.get(k),
                b.table()
            )
        };
        near("snapshot (criu dump)", 5.0);
        near("snapshot, fixed part", 30.0);
        near("restore (criu restore)", 2.0);
        near("restore, fixed part", 20.0);
        near("reap (pids free again)", 1.0);
        near("reattach (namespace + links)", 50.0);
        near("transfer, same host", 0.0);
        near("suspend", 4.0);
        // The profile folds the fixed parts (and reap, counted in its snapshot) into reattach.
        near("profile reattach_ms (+ fixed parts)", 50.0 + 31.0 + 20.0);
        let paper = b
            .rows
            .iter()
            .find(|r| r.phase == "restore (criu restore)")
            .unwrap()
            .paper;
        assert_eq!(paper, Some(1.8));
        assert!(b.table().lines().count() == b.rows.len() + 1);
    }

    #[test]
    fn costs_from_runs() {
        let run = |mb: f64, snap: f64, tr: f64, rest: f64| MigrationTimes {
            image_bytes: (mb * 1048576.0) as u64,
            suspend_s: 0.001,
            snapshot_s: snap,
            transfer_s: tr,
            restore_s: rest,
            reattach_s: 0.1,
            resume_s: 0.002,
            ..Default::default()
        };
        let pairs = vec![PairResult {
            from: "a".into(),
            to: "b".into(),
            class: "net".into(),
            via: "direct".into(),
            runs: vec![run(10.0, 0.15, 0.2, 0.06), run(50.0, 0.35, 1.0, 0.14)],
            links_only_s: Vec::new(),
            post_copy_runs: Vec::new(),
            pre_copy_runs: Vec::new(),
        }];
        let c = costs_from(&Costs::default(), &pairs);
        assert!((c.snapshot_ms_per_mb - 5.0).abs() < 1e-6, "{c:?}");
        assert!((c.transfer_ms_per_mb.net - 20.0).abs() < 1e-6);
        assert_eq!(c.transfer_ms_per_mb.host, Costs::default().transfer_ms_per_mb.host);
        assert!((c.restore_ms_per_mb - 2.0).abs() < 1e-6);
        // 100 ms reattach + 100 ms snapshot intercept + 40 ms restore intercept + 0 transfer intercept.
        assert!((c.reattach_ms - 240.0).abs() < 1e-6, "{}", c.reattach_ms);
        assert!((c.suspend_ms - 1.0).abs() < 1e-9 && (c.resume_ms - 2.0).abs() < 1e-9);
        assert!(c.check().is_ok());
        assert_eq!(c.checkpoint_ms, 0.0);

        // With links-only moves measured, the fixed parts are checkpoint_ms
        // and reattach_ms is the links-only move.
        let mut pairs = pairs;
        pairs[0].links_only_s = vec![0.030, 0.050];
        let c = costs_from(&Costs::default(), &pairs);
        assert!((c.checkpoint_ms - 140.0).abs() < 1e-6, "{c:?}");
        assert!((c.reattach_ms - 40.0).abs() < 1e-6, "{c:?}");
        let b = breakdown(&pairs, &c);
        assert!((b.get("profile checkpoint_ms (fixed parts)").unwrap() - 140.0).abs() < 1e-6);
        assert!((b.get("links-only move (4 links), marginal").unwrap() - 40.0).abs() < 1e-6);
        assert!(b.get("profile reattach_ms (+ fixed parts)").is_none());
    }

    #[test]
    fn pre_copy_runs_give_the_round_fraction() {
        let pre = |s: f64, cpu: Option<f64>| MigrationTimes {
            checkpointed: true,
            image_bytes: 1 << 20,
            pause_s: 0.5,
            pre_copy_s: s,
            pre_copy_rounds: vec![64 << 20, 1 << 12],
            pre_copy_round_s: vec![s * 0.9, s * 0.1],
            pre_copy_cpu_s: cpu,
            ..Default::default()
        };
        let mut pairs = vec![PairResult {
            from: "a".into(),
            to: "b".into(),
            class: "net".into(),
            via: "direct".into(),
            runs: vec![MigrationTimes {
                image_bytes: 8 << 20,
                snapshot_s: 0.1,
                ..Default::default()
            }],
            links_only_s: Vec::new(),
            post_copy_runs: Vec::new(),
            pre_copy_runs: vec![pre(2.0, Some(0.5)), pre(6.0, Some(2.5)), pre(1.0, None)],
        }];
        // (0.5 + 2.5) CPU-s over (2 + 6) s; the run without the figure does not count.
        let c = costs_from(&Costs::default(), &pairs);
        assert!((c.pre_copy.round_fraction - 0.375).abs() < 1e-12, "{c:?}");
        assert_eq!(c.pre_copy.dirty_mb_s, Costs::default().pre_copy.dirty_mb_s);
        assert!(c
            .source
            .as_deref()
            .unwrap()
            .contains("round_fraction from 3 pre-copy move(s)"));
        let b = breakdown(&pairs, &c);
        assert_eq!(b.get("profile pre_copy.round_fraction"), Some(0.375));
        assert!(b.table().contains("0.375"), "{}", b.table());
        assert_eq!(b.get("pre-copy: pause (suspend to resume)"), Some(500.0));
        assert!(c.check().is_ok());

        for r in &mut pairs[0].pre_copy_runs {
            r.pre_copy_cpu_s = None;
        }
        let c = costs_from(&Costs::default(), &pairs);
        assert_eq!(c.pre_copy.round_fraction, Costs::default().pre_copy.round_fraction);
        assert!(c.source.as_deref().unwrap().contains("no CPU figure"));
    }
}
