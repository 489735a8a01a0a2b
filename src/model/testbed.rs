//! The testbed: physical hosts, each with a NIC and VMs (one per CPU).

use super::costs::Costs;
use super::mode::MigrationMode;
use super::names::check_name;
use crate::error::{Error, Location, Result};
use crate::limits::{MAX_VALUE, MIN_POSITIVE};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Testbed {
    pub hosts: Vec<Host>,
    #[serde(default, skip_serializing_if = "is_default_costs")]
    pub costs: Costs,
    /// A known_hosts file for the VMs' SSH host keys (default: the user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    /// A private key file for the VMs (default: ssh-agent); a relative path
    /// is relative to the testbed file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// How a migration's images go from one machine to another (default `direct`).
    #[serde(default, skip_serializing_if = "is_default_transfer")]
    pub transfer: TransferMode,
    /// CPUs of the machine netbalance runs on, which does the host-side
    /// work (namespaces, links, CRIU) of every local VM (one without
    /// `ssh`): moves between local VMs then also share these CPUs (model
    /// §3). Absent: every VM does its own moves' work (a real cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_cpus: Option<u32>,
    /// How vnodes migrate (model §3.1) when a command is given no
    /// `--migration`; absent: stop-copy for the commands that only price moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationMode>,
}

/// How images move between two VMs on different machines (docs/testbed.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// A plain TCP stream from the source VM to the destination VM's SSH
    /// address (`netbalance xfer` at both ends, started over SSH; the
    /// netbalance binary must be on both VMs). Unauthenticated, unencrypted:
    /// for a private testbed LAN. Falls back to `ssh` where it cannot run.
    #[default]
    Direct,
    /// A tar archive streamed through this process, from one SSH session into the other.
    Ssh,
}

fn is_default_transfer(t: &TransferMode) -> bool {
    *t == TransferMode::default()
}

fn is_default_costs(c: &Costs) -> bool {
    *c == Costs::default()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub name: String,
    /// NIC bandwidth in Mbit/s.
    pub nic_mbps: f64,
    pub vms: Vec<Vm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    pub name: String,
    /// CPU-seconds per second (1.0 = one core).
    #[serde(default = "one")]
    pub capacity: f64,
    /// `user@host:port` to reach the VM; absent: a local VM (namespaces here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
}

fn one() -> f64 {
    1.0
}

impl Testbed {
    /// The shorthand generator: `hosts` hosts with `cpus` VMs each, named
    /// `h{i}` and `h{i}-v{j}`, capacity 1.0, local (no ssh).
    ///
    /// ```
    /// let tb = netbalance::model::Testbed::generate(2, 4, 10_000.0);
    /// assert_eq!(tb.vm_count(), 8);
    /// assert_eq!(tb.hosts[1].vms[3].name, "h1-v3");
    /// ```
    pub fn generate(hosts: usize, cpus: usize, nic_mbps: f64) -> Testbed {
        Testbed {
            hosts: (0..hosts)
                .map(|h| Host {
                    name: format!("h{h}"),
                    nic_mbps,
                    vms: (0..cpus)
                        .map(|v| Vm {
                            name: format!("h{h}-v{v}"),
                            capacity: 1.0,
                            ssh: None,
                        })
                        .collect(),
                })
                .collect(),
            costs: Costs::default(),
            known_hosts: None,
            identity: None,
            transfer: TransferMode::default(),
            local_cpus: None,
            migration: None,
        }
    }

    pub fn vm_count(&self) -> usize {
        self.hosts.iter().map(|h| h.vms.len()).sum()
    }

    /// Every VM with the index of its host, in file order.
    pub fn vms(&self) -> impl Iterator<Item = (usize, &Vm)> {
        self.hosts
            .iter()
            .enumerate()
            .flat_map(|(h, host)| host.vms.iter().map(move |vm| (h, vm)))
    }

    /// Check names, numbers and uniqueness; errors name the JSON path.
    pub fn validate(&self, file: &str) -> Result<()> {
        let at = |path: String, msg: String| Error::input(Location::file(file).at_path(path), msg);
        if self.hosts.is_empty() {
            return Err(at("hosts".into(), "a testbed needs at least one host".into()));
        }
        if self.local_cpus == Some(0) {
            return Err(at("local_cpus".into(), "must be at least 1".into()));
        }
        let mut hosts = HashSet::new();
        let mut vms = HashSet::new();
        for (i, host) in self.hosts.iter().enumerate() {
            check_name(&host.name).map_err(|m| at(format!("hosts[{i}].name"), m))?;
            if !hosts.insert(host.name.as_str()) {
                return Err(at(
                    format!("hosts[{i}].name"),
                    format!("duplicate host name {:?}", host.name),
                ));
            }
            if !positive(host.nic_mbps) {
                return Err(at(
                    format!("hosts[{i}].nic_mbps"),
                    format!(
                        "must be a number in [{MIN_POSITIVE:e}, {MAX_VALUE:e}], got {}",
                        host.nic_mbps
                    ),
                ));
            }
            if host.vms.is_empty() {
                return Err(at(format!("hosts[{i}].vms"), "a host needs at least one VM".into()));
            }
            for (j, vm) in host.vms.iter().enumerate() {
                check_name(&vm.name).map_err(|m| at(format!("hosts[{i}].vms[{j}].name"), m))?;
                if !vms.insert(vm.name.as_str()) {
                    return Err(at(
                        format!("hosts[{i}].vms[{j}].name"),
                        format!("duplicate VM name {:?}", vm.name),
                    ));
                }
                if !positive(vm.capacity) {
                    return Err(at(
                        format!("hosts[{i}].vms[{j}].capacity"),
                        format!(
                            "must be a number in [{MIN_POSITIVE:e}, {MAX_VALUE:e}], got {}",
                            vm.capacity
                        ),
                    ));
                }
                if let Some(ssh) = &vm.ssh {
                    check_ssh_target(ssh).map_err(|m| at(format!("hosts[{i}].vms[{j}].ssh"), m))?;
                }
            }
        }
        self.costs.check().map_err(|(f, m)| at(format!("costs.{f}"), m))?;
        Ok(())
    }
}

/// A parsed `user@host:port` SSH target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: String,
    pub host: String,
    pub port: u16,
}

/// Parse `user@host[:port]`; a password (`user:pw@host`) is refused.
///
/// ```
/// use netbalance::model::testbed::parse_ssh_target;
/// let t = parse_ssh_target("root@10.0.0.5:2222").unwrap();
/// assert_eq!((t.user.as_str(), t.host.as_str(), t.port), ("root", "10.0.0.5", 2222));
/// assert!(parse_ssh_target("root:secret@h").is_err());
/// ```
pub fn parse_ssh_target(s: &str) -> Result<SshTarget, String> {
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) => (u, r),
        None => ("root", s),
    };
    if user.contains(':') {
        return Err("a password in the testbed file is refused: authenticate with ssh-agent or a key file".into());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            let port: u16 = p.parse().map_err(|_| format!("bad port {p:?} in {s:?}"))?;
            (h.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (rest, 22),
    };
    let ok_user = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let ok_host = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !ok_user {
        return Err(format!("bad user name in ssh target {s:?}"));
    }
    if !ok_host {
        return Err(format!("bad host in ssh target {s:?}"));
    }
    Ok(SshTarget {
        user: user.to_string(),
        host: host.to_string(),
        port,
    })
}

/// A divisor of the model (capacity, bandwidth): in [MIN_POSITIVE, MAX_VALUE],
/// so that τ stays finite.
fn positive(v: f64) -> bool {
    v.is_finite() && (MIN_POSITIVE..=MAX_VALUE).contains(&v)
}

fn check_ssh_target(s: &str) -> Result<(), String> {
    parse_ssh_target(s).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_defaults_to_direct_and_round_trips() {
        let base = r#"{"hosts":[{"name":"h0","nic_mbps":1000,"vms":[{"name":"h0-v0"}]}]"#;
        let tb: Testbed = serde_json::from_str(&format!("{base}}}")).unwrap();
        assert_eq!(tb.transfer, TransferMode::Direct);
        assert!(
            !serde_json::to_string(&tb).unwrap().contains("transfer"),
            "the default is not written"
        );
        let tb: Testbed = serde_json::from_str(&format!(r#"{base},"transfer":"ssh"}}"#)).unwrap();
        assert_eq!(tb.transfer, TransferMode::Ssh);
        assert!(serde_json::to_string(&tb).unwrap().contains(r#""transfer":"ssh""#));
        let err = serde_json::from_str::<Testbed>(&format!(r#"{base},"transfer":"ftp"}}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant"), "{err}");
    }
}
