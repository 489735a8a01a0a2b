//! `netbalance status`: what the state dir says is deployed and what is
//! really running (like `containerlab inspect`): per vnode its VM, the pid
//! of its `run` process, the CPU its cgroup used so far, its links up or
//! down, healthy or not. JSON by default, `--human` a table. Exit 1 when a
//! vnode is unhealthy (a check that failed).

use super::Status;
use crate::cli::{StateDirArg, TestbedArg, TopologyArg};
use crate::error::Result;
use crate::inputs::{resolve_testbed, resolve_topology};
use crate::model::Placement;
use crate::state::StateDir;
use crate::testbed::monitor::{sample, Sample};
use crate::testbed::vnode::running_pid;
use crate::testbed::{Fleet, Layout, Paths, SshArgs};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sudo netbalance status --human\n  sudo netbalance status | jq '.vnodes[] | select(.healthy | not)'"
)]
pub struct Args {
    #[command(flatten)]
    pub state_dir: StateDirArg,
    #[command(flatten)]
    pub topology: TopologyArg,
    #[command(flatten)]
    pub testbed: TestbedArg,
    /// Where vnode state lives on the VMs
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netbalance/vnodes")]
    pub state_root: PathBuf,
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Print a table for people instead of JSON
    #[arg(long)]
    pub human: bool,
}

/// One end of a link, seen from a vnode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkStatus {
    pub peer: String,
    pub iface: String,
    /// The link's interface was found (with byte counters) in its namespace.
    pub up: bool,
}

/// One vnode as found on its VM.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VnodeStatus {
    pub id: String,
    pub vm: String,
    /// The pid of its `run` process (null: no `run`, or not running).
    pub pid: Option<u32>,
    /// CPU-seconds its cgroup used so far (null: the cgroup is missing).
    pub cpu_s: Option<f64>,
    pub links: Vec<LinkStatus>,
    pub healthy: bool,
    /// What is wrong, for people (empty when healthy).
    pub problems: Vec<String>,
}

/// The whole answer.
#[derive(Debug, Serialize)]
pub struct Report {
    pub state_dir: PathBuf,
    /// A placement is in force (something is deployed).
    pub deployed: bool,
    pub vnodes: Vec<VnodeStatus>,
    pub healthy: usize,
    pub unhealthy: usize,
}

pub fn run(args: Args) -> Result<Status> {
    let state = StateDir::at(&args.state_dir.state_dir);
    let Some(mut placement) = state.placement()? else {
        let report = Report {
            state_dir: args.state_dir.state_dir.clone(),
            deployed: false,
            vnodes: Vec::new(),
            healthy: 0,
            unhealthy: 0,
        };
        return print(&report, args.human).map(|_| Status::Done);
    };
    placement.read_from = Some(state.placement_path());
    let (topology, _) = resolve_topology(args.topology.topology.as_deref(), Some(&placement))?;
    let (testbed, _) = resolve_testbed(args.testbed.testbed.as_deref(), Some(&placement))?;
    let layout = Layout::new(&topology)?;
    let paths = Paths {
        state_root: args.state_root.clone(),
        ..Paths::default()
    };
    let mut fleet = Fleet::new(&testbed, args.ssh.options(&testbed), paths);
    let vnodes = inspect(&mut fleet, &layout, &placement);
    let healthy = vnodes.iter().filter(|v| v.healthy).count();
    let report = Report {
        state_dir: args.state_dir.state_dir.clone(),
        deployed: true,
        unhealthy: vnodes.len() - healthy,
        healthy,
        vnodes,
    };
    print(&report, args.human)?;
    Ok(if report.unhealthy == 0 {
        Status::Done
    } else {
        Status::Negative
    })
}

/// Look at every vnode of the placement: two samples of all of them (each
/// link read at one end, then at the other; two commands per VM each);
/// where that fails, one sample per vnode with every link read at its end,
/// so that one broken vnode does not hide the others' state.
fn inspect(fleet: &mut Fleet, layout: &Layout, placement: &Placement) -> Vec<VnodeStatus> {
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cpu_ns: BTreeMap<String, u64> = BTreeMap::new();
    // per link: how many of its two ends were found
    let mut ends_up: BTreeMap<usize, u8> = BTreeMap::new();
    let mut merge = |s: Sample| {
        cpu_ns.extend(s.cpu_ns);
        for l in s.link_bytes.into_keys() {
            *ends_up.entry(l).or_default() += 1;
        }
    };
    let reversed = Layout {
        vnodes: layout.vnodes.clone(),
        links: layout
            .links
            .iter()
            .map(|(a, b, d)| (b.clone(), a.clone(), *d))
            .collect(),
    };
    match (sample(fleet, layout, placement), sample(fleet, &reversed, placement)) {
        (Ok(a), Ok(b)) => {
            merge(a);
            merge(b);
        }
        _ => {
            for (id, vm) in &placement.vm_of {
                let Some(v) = layout.vnodes.get(id) else { continue };
                let only = Placement {
                    vm_of: [(id.clone(), vm.clone())].into(),
                    ..Placement::default()
                };
                // this vnode as the first end of each of its links
                let mut links = layout.links.clone();
                for f in &v.ifaces {
                    links[f.link] = (id.clone(), f.peer.clone(), layout.links[f.link].2);
                }
                let one = Layout {
                    vnodes: [(id.clone(), v.clone())].into(),
                    links,
                };
                match sample(fleet, &one, &only) {
                    Ok(s) => merge(s),
                    Err(e) => problems.entry(id.clone()).or_default().push(crate::error::one_line(&e)),
                }
            }
        }
    }
    let link_up: BTreeMap<usize, bool> = ends_up.into_iter().map(|(l, n)| (l, n >= 2)).collect();
    let paths = fleet.paths.clone();
    let mut out = Vec::new();
    for (id, v) in &layout.vnodes {
        let vm = placement.vm_of.get(id).cloned().unwrap_or_default();
        let mut problems = problems.remove(id).unwrap_or_default();
        let pid = match (&v.run, fleet.exec(&vm)) {
            (None, _) => None,
            (Some(_), Ok(ex)) => match running_pid(ex, &paths, &v.cgroup) {
                Ok(Some(pid)) => Some(pid),
                Ok(None) => {
                    problems.push("its run process is not running".into());
                    None
                }
                Err(e) => {
                    problems.push(format!("pid: {e}", e = crate::error::one_line(&e)));
                    None
                }
            },
            (Some(_), Err(e)) => {
                problems.push(format!("VM {vm}: {e}", e = crate::error::one_line(&e)));
                None
            }
        };
        let links: Vec<LinkStatus> = v
            .ifaces
            .iter()
            .map(|f| LinkStatus {
                peer: f.peer.clone(),
                iface: f.name.clone(),
                up: link_up.get(&f.link).copied().unwrap_or(false),
            })
            .collect();
        if let Some(down) = links.iter().find(|l| !l.up) {
            problems.push(format!("link to {} ({}) is down", down.peer, down.iface));
        }
        let cpu_s = cpu_ns.get(id).map(|ns| *ns as f64 / 1e9);
        if cpu_s.is_none() && problems.is_empty() {
            problems.push("its cgroup could not be read".into());
        }
        out.push(VnodeStatus {
            id: id.clone(),
            vm,
            pid,
            cpu_s: cpu_s.map(crate::io::round_result),
            links,
            healthy: problems.is_empty(),
            problems,
        });
    }
    out
}

fn print(report: &Report, human: bool) -> Result<()> {
    if !human {
        return crate::io::write_json_stdout(report);
    }
    if !report.deployed {
        return crate::io::write_text_stdout(&format!(
            "nothing deployed (no placement in force in {})\n",
            report.state_dir.display()
        ));
    }
    let mut rows = vec![[
        "VNODE".to_string(),
        "VM".into(),
        "PID".into(),
        "CPU s".into(),
        "LINKS up/all".into(),
        "HEALTHY".into(),
    ]];
    for v in &report.vnodes {
        rows.push([
            v.id.clone(),
            v.vm.clone(),
            v.pid.map_or("-".into(), |p| p.to_string()),
            v.cpu_s.map_or("-".into(), |c| format!("{c:.3}")),
            format!("{}/{}", v.links.iter().filter(|l| l.up).count(), v.links.len()),
            if v.healthy {
                "yes".into()
            } else {
                format!("no: {}", v.problems.join("; "))
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&format!(
        "{} vnode(s): {} healthy, {} not\n",
        report.vnodes.len(),
        report.healthy,
        report.unhealthy
    ));
    crate::io::write_text_stdout(&text)
}
