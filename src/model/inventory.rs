//! A testbed from an inventory of real machines (docs: README "A real
//! cluster"): an `ssh` template expanded per VM, or a hosts file listing
//! one `user@host[:port]` per VM, grouped into physical hosts.

use super::testbed::parse_ssh_target;
use super::{Host, Testbed, Vm};
use crate::error::{Error, Location, Result};

/// Expand an ssh template for VM `v` of host `h` (`i`: the VM's position in
/// the whole testbed). Placeholders: `{h}`, `{v}`, `{i}`, each optionally
/// with an offset, `{i+10}`.
///
/// ```
/// use netbalance::model::inventory::expand;
/// assert_eq!(expand("root@10.0.{h}.{v+10}:22", 2, 3, 19).unwrap(), "root@10.0.2.13:22");
/// assert_eq!(expand("vm{i}", 0, 0, 7).unwrap(), "vm7");
/// assert!(expand("root@10.0.0.{x}", 0, 0, 0).is_err());
/// ```
/// Complexity: O(length of the template).
pub fn expand(template: &str, h: usize, v: usize, i: usize) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in {template:?}"))?
            + open;
        let inner = rest[open + 1..close].trim();
        let (name, offset) = match inner.split_once('+') {
            Some((n, o)) => (
                n.trim(),
                o.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("offset {o:?} in {{{inner}}} is not a whole number"))?,
            ),
            None => (inner, 0),
        };
        let base = match name {
            "h" => h,
            "v" => v,
            "i" => i,
            _ => {
                return Err(format!(
                    "unknown placeholder {{{inner}}} in {template:?} (use {{h}}, {{v}}, {{i}}, e.g. {{i+10}})"
                ))
            }
        };
        out.push_str(&(base + offset).to_string());
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Set every VM's `ssh` from a template (see [`expand`]); each result must
/// be a valid `user@host[:port]` and the targets distinct.
pub fn apply_template(testbed: &mut Testbed, template: &str) -> Result<()> {
    let usage = |m: String| Error::usage(format!("--ssh {template:?}: {m}"));
    let mut i = 0;
    let mut seen = std::collections::HashSet::new();
    for (h, host) in testbed.hosts.iter_mut().enumerate() {
        for (v, vm) in host.vms.iter_mut().enumerate() {
            let target = expand(template, h, v, i).map_err(usage)?;
            parse_ssh_target(&target).map_err(usage)?;
            if !seen.insert(target.clone()) {
                return Err(usage(format!(
                    "gives {target:?} twice (use {{v}} or {{i}} so that every VM differs)"
                )));
            }
            vm.ssh = Some(target);
            i += 1;
        }
    }
    Ok(())
}

/// Read a hosts file: one VM per line, `user@host[:port] [HOST]`; `#`
/// starts a comment. VMs naming the same HOST run on one physical host;
/// lines without a HOST belong to the current group, and a blank line
/// starts a new group (named `h0`, `h1`, … in order). VMs are named
/// `HOST-v0`, `HOST-v1`, … in file order.
///
/// ```
/// use netbalance::model::inventory::from_hosts_file;
/// let tb = from_hosts_file("root@10.0.0.1\nroot@10.0.0.2\n\nroot@10.0.1.1:2222\n", "hosts", 10_000.0, 1.0).unwrap();
/// assert_eq!(tb.hosts.len(), 2);
/// assert_eq!(tb.hosts[1].vms[0].name, "h1-v0");
/// assert_eq!(tb.hosts[1].vms[0].ssh.as_deref(), Some("root@10.0.1.1:2222"));
/// ```
/// Complexity: O(lines · hosts) (hosts are few).
pub fn from_hosts_file(text: &str, file: &str, nic_mbps: f64, capacity: f64) -> Result<Testbed> {
    let mut hosts: Vec<Host> = Vec::new();
    let mut group: Option<usize> = None;
    let mut targets = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| Error::input(Location::file(file).at_line(n + 1), m);
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            if line.trim().is_empty() {
                group = None;
            }
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        let (target, host_name) = match words[..] {
            [t] => (t, None),
            [t, h] => (t, Some(h.to_string())),
            _ => {
                return Err(at(format!(
                    "expected `user@host[:port] [HOST]`, found {} words",
                    words.len()
                )))
            }
        };
        parse_ssh_target(target).map_err(at)?;
        if let Some(prev) = targets.insert(target.to_string(), n + 1) {
            return Err(at(format!("{target} is already listed on line {prev}")));
        }
        let index = match host_name {
            Some(name) => match hosts.iter().position(|h| h.name == name) {
                Some(i) => i,
                None => push_host(&mut hosts, name, nic_mbps),
            },
            None => match group {
                Some(g) => g,
                None => {
                    let name = format!("h{}", hosts.len());
                    let g = push_host(&mut hosts, name, nic_mbps);
                    group = Some(g);
                    g
                }
            },
        };
        let host = &mut hosts[index];
        host.vms.push(Vm {
            name: format!("{}-v{}", host.name, host.vms.len()),
            capacity,
            ssh: Some(target.to_string()),
        });
    }
    if hosts.is_empty() {
        return Err(Error::input(
            Location::file(file),
            "no VMs: expected one `user@host[:port] [HOST]` per line",
        ));
    }
    let tb = Testbed {
        hosts,
        ..Testbed::generate(1, 1, nic_mbps)
    };
    tb.validate(file)?;
    Ok(tb)
}

fn push_host(hosts: &mut Vec<Host>, name: String, nic_mbps: f64) -> usize {
    hosts.push(Host {
        name,
        nic_mbps,
        vms: Vec::new(),
    });
    hosts.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_hosts_group_vms_and_errors_name_the_line() {
        let text = "# cluster\nroot@a1 alpha\nroot@b1 beta\nroot@a2:2222 alpha   # second VM of alpha\n";
        let tb = from_hosts_file(text, "hosts", 1000.0, 1.0).unwrap();
        let shape: Vec<(&str, Vec<&str>)> = tb
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.vms.iter().map(|v| v.name.as_str()).collect()))
            .collect();
        assert_eq!(
            shape,
            [("alpha", vec!["alpha-v0", "alpha-v1"]), ("beta", vec!["beta-v0"])]
        );
        let err = |t| from_hosts_file(t, "hosts", 1000.0, 1.0).unwrap_err().to_string();
        assert_eq!(err("root@a\nroot@a\n"), "hosts:2: root@a is already listed on line 1");
        assert_eq!(
            err("root:pw@a\n"),
            "hosts:1: a password in the testbed file is refused: authenticate with ssh-agent or a key file"
        );
        assert_eq!(
            err("root@a x y\n"),
            "hosts:1: expected `user@host[:port] [HOST]`, found 3 words"
        );
        assert_eq!(
            err("# nothing\n"),
            "hosts: no VMs: expected one `user@host[:port] [HOST]` per line"
        );
    }

    #[test]
    fn a_template_gives_every_vm_a_distinct_target() {
        let mut tb = Testbed::generate(2, 3, 1000.0);
        apply_template(&mut tb, "root@10.0.{h}.{v+2}").unwrap();
        assert_eq!(tb.hosts[1].vms[2].ssh.as_deref(), Some("root@10.0.1.4"));
        let err = apply_template(&mut tb, "root@10.0.0.{h}").unwrap_err().to_string();
        assert!(err.contains("gives \"root@10.0.0.0\" twice"), "{err}");
        let err = apply_template(&mut tb, "root@10.0.0.{i").unwrap_err().to_string();
        assert!(err.contains("without"), "{err}");
    }
}
