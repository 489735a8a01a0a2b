//! The `ip`/`tc` commands that make links, gathered into one shell script
//! per machine, so that a step costs one command per machine it touches
//! instead of one per namespace and tool.
//!
//! A machine's script runs, in this order: the VMs' first lines (new
//! namespaces made, a restored vnode's input held); then per VM the old
//! ends a move retires in its namespaces (best effort: a missing end is no
//! error) and the new veth pairs or VXLAN devices made in its root
//! namespace under temporary names; then per namespace the ends renamed,
//! addressed and brought up (`ip -batch`), then their qdiscs (`tc -batch`).
//! A VXLAN device's old end is deleted before the new one with the same
//! VNI is made; a veth pair made from one VM's root namespace may end in a
//! namespace of another VM of the machine, made earlier in the script.
//!
//! Inside a namespace the tools run under `nsenter --net=` rather than with
//! their own `-n`: `ip -n` also unshares a mount namespace and remounts
//! `/sys`, which doubled the time of each batch here (12 ms against 5 ms,
//! with 1,600 namespaces), and these batches read nothing from `/sys`.

use super::exec::{Cmd, Executor};
use super::fleet::Fleet;
use super::links::netns_path;
use super::quote::quote;
use crate::error::Result;
use std::collections::BTreeMap;

/// Lines for `ip -batch` and `tc -batch` in one namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NsLines {
    pub ip: String,
    pub tc: String,
}

/// Every command of one link-making step, by VM and namespace.
#[derive(Debug, Clone, Default)]
pub struct LinkBatches {
    /// Per VM: shell lines run before anything else (namespaces made, holds set).
    pub first_lines: BTreeMap<String, String>,
    /// Per (VM, namespace): `ip` lines run first, whose failures are ignored.
    pub retire: BTreeMap<(String, String), String>,
    /// Per VM: `ip` lines for its root namespace.
    pub root: BTreeMap<String, String>,
    /// Per (VM, namespace): the ends' configuration.
    pub inner: BTreeMap<(String, String), NsLines>,
}

const END: &str = "NETBALANCE_BATCH_END";

/// Append to `script` a run of `argv` (already quoted) reading `lines` on
/// stdin; with `what`, a failure stops the script naming it, else it is ignored.
pub(crate) fn step(script: &mut String, argv: &str, lines: &str, what: Option<&str>) {
    let on_error = match what {
        Some(w) => format!(
            "|| {{ echo {} >&2; exit 1; }}",
            quote(&format!("netbalance: {w} failed"))
        ),
        None => ">/dev/null 2>&1 || true".to_string(),
    };
    script.push_str(&format!("{argv} <<'{END}' {on_error}\n{lines}"));
    if !lines.ends_with('\n') {
        script.push('\n');
    }
    script.push_str(END);
    script.push('\n');
}

/// `tool` (`ip` or `tc`, with options) reading a batch inside namespace `ns`.
fn in_ns(ns: &str, tool: &str) -> String {
    format!("nsenter --net={} {tool} -batch -", quote(&netns_path(ns)))
}

impl LinkBatches {
    /// The first phase's script for `vm` (retired ends, then its root batch).
    fn first(&self, vm: &str) -> String {
        let mut s = String::new();
        for ((_, ns), lines) in self.retire.iter().filter(|((v, _), _)| v == vm) {
            // -force: go on past a line that fails (an end already gone).
            step(&mut s, &in_ns(ns, "ip -force"), lines, None);
        }
        if let Some(lines) = self.root.get(vm) {
            step(&mut s, "ip -batch -", lines, Some("ip -batch in the root namespace"));
        }
        s
    }

    /// The second phase for `vm`: one script per namespace (its ends).
    fn second(&self, vm: &str) -> Vec<String> {
        let mut out = Vec::new();
        for ((_, ns), l) in self.inner.iter().filter(|((v, _), _)| v == vm) {
            let mut s = String::new();
            if !l.ip.is_empty() {
                step(
                    &mut s,
                    &in_ns(ns, "ip"),
                    &l.ip,
                    Some(&format!("ip -batch in namespace {ns}")),
                );
            }
            if !l.tc.is_empty() {
                step(
                    &mut s,
                    &in_ns(ns, "tc"),
                    &l.tc,
                    Some(&format!("tc -batch in namespace {ns}")),
                );
            }
            out.push(s);
        }
        out
    }

    /// Run both phases: one `sh -s` per machine that has work (VMs of one
    /// machine share its namespaces, and every end configured on a machine
    /// was made there: a veth pair joins two VMs of one machine, a VXLAN
    /// end is made on its own VM), so the second phase follows the first in
    /// the same script. VMs whose machine is unknown get one script each.
    ///
    /// Complexity: O(total lines) to build the scripts, one command per machine.
    pub fn apply(&self, fleet: &mut Fleet) -> Result<()> {
        let mut vms: Vec<&String> = self
            .retire
            .keys()
            .chain(self.inner.keys())
            .map(|(v, _)| v)
            .chain(self.root.keys())
            .chain(self.first_lines.keys())
            .collect();
        vms.sort();
        vms.dedup();
        // Per machine: the VM whose executor runs the script, and its VMs.
        let mut machines: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for vm in vms {
            let key = fleet.machine(vm)?.unwrap_or_else(|| format!("vm {vm}"));
            machines.entry(key).or_default().push(vm);
        }
        for group in machines.values() {
            // Namespaces first: a veth pair is made from one VM's root
            // namespace into namespaces of other VMs of the machine.
            let mut script: String = group
                .iter()
                .filter_map(|vm| self.first_lines.get(*vm).cloned())
                .collect();
            script.extend(group.iter().map(|vm| self.first(vm)));
            let namespaces: Vec<String> = group.iter().flat_map(|vm| self.second(vm)).collect();
            script.push_str(&in_parallel(&namespaces));
            run_script(fleet.exec(group[0])?, &script)?;
        }
        Ok(())
    }
}

/// Namespaces configured by one job of a deploy-sized step at most.
const PER_JOB_MIN: usize = 16;
/// Jobs a machine's namespaces are shared out over (each one `nsenter`,
/// `ip` and `tc` per namespace: process starts, a few ms each).
const JOBS: usize = 4;

/// The scripts one after another, or, when there are many, in [`JOBS`]
/// background subshells whose failures fail the script (each has already
/// said what failed).
fn in_parallel(parts: &[String]) -> String {
    if parts.len() < 2 * PER_JOB_MIN {
        return parts.concat();
    }
    let per_job = parts.len().div_ceil(JOBS);
    let mut s = String::new();
    let chunks: Vec<&[String]> = parts.chunks(per_job).collect();
    for (j, chunk) in chunks.iter().enumerate() {
        s.push_str(&format!("(\n{}) &\nnb_job{j}=$!\n", chunk.concat()));
    }
    s.push_str("nb_failed=\n");
    for j in 0..chunks.len() {
        s.push_str(&format!("wait $nb_job{j} || nb_failed=1\n"));
    }
    s.push_str("[ -z \"$nb_failed\" ] || exit 1\n");
    s
}

fn run_script(ex: &mut dyn Executor, script: &str) -> Result<()> {
    if !script.is_empty() {
        ex.run(&Cmd::new("sh").arg("-s").stdin(script.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_keep_the_order_and_name_what_failed() {
        let mut b = LinkBatches::default();
        b.retire
            .insert(("v0".into(), "ns1".into()), "link del dev eth0\n".into());
        b.root.insert("v0".into(), "link add x type dummy\n".into());
        b.inner.insert(
            ("v0".into(), "ns1".into()),
            NsLines {
                ip: "link set dev x up".into(),
                tc: String::new(),
            },
        );
        let first = b.first("v0");
        let retire = first.find("nsenter --net=/run/netns/ns1 ip -force -batch -").unwrap();
        let root = first.find("ip -batch - <<").unwrap();
        assert!(retire < root, "{first}");
        assert!(first.contains(">/dev/null 2>&1 || true\nlink del dev eth0\nNETBALANCE_BATCH_END\n"));
        let second = b.second("v0").concat();
        assert!(
            second.contains("'netbalance: ip -batch in namespace ns1 failed'"),
            "{second}"
        );
        assert!(
            second.ends_with("link set dev x up\nNETBALANCE_BATCH_END\n"),
            "{second}"
        );
        assert!(b.second("v1").is_empty());
    }

    #[test]
    fn many_namespaces_run_in_jobs_and_a_failing_job_fails_the_script() {
        let ok = |i: usize| format!("echo {i} >>\"$NB_OUT\"\n");
        let mut parts: Vec<String> = (0..40).map(ok).collect();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = |parts: &[String]| {
            let script = format!("NB_OUT={}\n{}", out.display(), in_parallel(parts));
            crate::testbed::LocalExecutor
                .output(&Cmd::new("sh").arg("-s").stdin(script))
                .unwrap()
        };
        assert_eq!(in_parallel(&parts).matches(") &").count(), JOBS);
        assert_eq!(run(&parts).status, 0);
        let mut seen: Vec<usize> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        parts[25] = "echo 'netbalance: job failed' >&2; exit 1\n".into();
        let r = run(&parts);
        assert_eq!(r.status, 1);
        assert_eq!(r.stderr_str().trim(), "netbalance: job failed");
        assert_eq!(in_parallel(&parts[..5]), parts[..5].concat());
    }

    #[test]
    fn a_failing_batch_stops_the_script_with_its_name() {
        if !std::path::Path::new("/bin/sh").exists() {
            return;
        }
        let mut s = String::new();
        let failing = "sh -c 'cat >/dev/null; exit 3'";
        step(&mut s, failing, "x\n", None);
        step(&mut s, failing, "y\n", Some("second"));
        step(&mut s, "echo never", "z\n", Some("third"));
        let out = crate::testbed::LocalExecutor
            .output(&Cmd::new("sh").arg("-s").stdin(s))
            .unwrap();
        assert_eq!(out.status, 1);
        assert_eq!(out.stderr_str().trim(), "netbalance: second failed");
        assert!(out.stdout_str().is_empty());
    }
}
