//! The lab's network: a namespace of its own holding a bridge with one tap
//! per VM (QEMU runs inside the namespace), reached from the root namespace
//! by one veth whose root end is `.1` of the lab's /24. There is no route out
//! of the namespace and no forwarding: the VMs reach each other and this
//! machine's veth end, nothing else.
//!
//! ```text
//!  root netns                 netns nblab<K>
//!  nblab<K> 10.213.K.1/24 ── nblab<K>p ─┐
//!                                       br0 ── tap0 ── h0-v0 10.213.K.10
//!                                           └─ tap1 ── h1-v0 10.213.K.11
//! ```

use crate::error::{Error, Result};
use crate::testbed::{Cmd, Executor};

/// The second octet of every lab subnet: `10.213.K.0/24`, K = 0..=255.
const NET_PREFIX: &str = "10.213";
/// Names of the lab's namespace and root-side veth: `nblab<K>`.
const NAME_PREFIX: &str = "nblab";

/// One lab's addresses and names, derived from its index K.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabNet {
    pub index: u8,
}

impl LabNet {
    pub fn netns(&self) -> String {
        format!("{NAME_PREFIX}{}", self.index)
    }
    /// The veth end in the root namespace (the peer, on the bridge, adds `p`).
    pub fn veth(&self) -> String {
        format!("{NAME_PREFIX}{}", self.index)
    }
    pub fn veth_peer(&self) -> String {
        format!("{NAME_PREFIX}{}p", self.index)
    }
    pub fn subnet(&self) -> String {
        format!("{NET_PREFIX}.{}.0/24", self.index)
    }
    /// This machine's address in the lab (the root end of the veth).
    pub fn gateway(&self) -> String {
        format!("{NET_PREFIX}.{}.1", self.index)
    }
    /// VM `i`'s address: `.10 + i` (so at most 240 VMs).
    pub fn vm_ip(&self, i: usize) -> String {
        format!("{NET_PREFIX}.{}.{}", self.index, 10 + i)
    }
    pub fn tap(i: usize) -> String {
        format!("tap{i}")
    }
    /// A locally administered MAC in QEMU's range, unique per lab and VM.
    pub fn mac(&self, i: usize) -> String {
        format!("52:54:00:d5:{:02x}:{:02x}", self.index, i)
    }

    /// Claim a free index: one whose /24 no interface or route here uses and
    /// whose namespace `ip netns add` can create (that is the atomic claim:
    /// two `lab up` at once get different namespaces). The namespace exists
    /// afterwards, empty; [`LabNet::create`] fills it.
    pub fn claim(ex: &mut dyn Executor) -> Result<LabNet> {
        let used = ex.run(&Cmd::new("ip").args(["-4", "-o", "addr", "show"]))?
            + &ex.run(&Cmd::new("ip").args(["-4", "route", "show", "table", "all"]))?;
        for k in 0..=255u8 {
            let net = LabNet { index: k };
            if used.contains(&format!("{NET_PREFIX}.{k}.")) {
                continue;
            }
            if ex
                .output(&Cmd::new("ip").args(["netns", "add", &net.netns()]))?
                .success()
            {
                return Ok(net);
            }
        }
        Err(Error::Host(format!(
            "no free lab network: every {NET_PREFIX}.K.0/24 (K = 0..255) is in use here"
        )))
    }

    /// Bridge, veth and `vms` taps in the (claimed) namespace.
    pub fn create(&self, ex: &mut dyn Executor, vms: usize) -> Result<()> {
        let ns = self.netns();
        let inns = |args: &[&str]| Cmd::new("ip").args(["-n", ns.as_str()]).args(args.iter().copied());
        ex.run(&inns(&["link", "set", "lo", "up"]))?;
        ex.run(&inns(&["link", "add", "br0", "type", "bridge"]))?;
        ex.run(&inns(&["link", "set", "br0", "up"]))?;
        ex.run(&Cmd::new("ip").args([
            "link",
            "add",
            &self.veth(),
            "type",
            "veth",
            "peer",
            "name",
            &self.veth_peer(),
            "netns",
            &ns,
        ]))?;
        ex.run(&inns(&["link", "set", &self.veth_peer(), "master", "br0", "up"]))?;
        ex.run(&Cmd::new("ip").args(["addr", "add", &format!("{}/24", self.gateway()), "dev", &self.veth()]))?;
        ex.run(&Cmd::new("ip").args(["link", "set", &self.veth(), "up"]))?;
        for i in 0..vms {
            let tap = Self::tap(i);
            ex.run(&inns(&["tuntap", "add", "dev", &tap, "mode", "tap"]))?;
            ex.run(&inns(&["link", "set", &tap, "master", "br0", "up"]))?;
        }
        Ok(())
    }

    /// Remove the veth and the namespace (with its bridge and taps). Every
    /// process still in the namespace must be gone first (see
    /// [`LabNet::pids`]). Parts already gone are skipped.
    pub fn destroy(netns: &str, veth: &str, ex: &mut dyn Executor) -> Result<()> {
        if link_exists(ex, None, veth)? {
            ex.run(&Cmd::new("ip").args(["link", "del", veth]))?;
        }
        if netns_exists(netns) {
            // Taps and the bridge go with the namespace; deleting them first
            // leaves nothing behind even if the kernel moved a device out.
            let links = ex.run(&Cmd::new("ip").args(["-n", netns, "-o", "link", "show"]))?;
            for name in links.lines().filter_map(link_name) {
                if name != "lo" {
                    ex.output(&Cmd::new("ip").args(["-n", netns, "link", "del", name]))?;
                }
            }
            ex.run(&Cmd::new("ip").args(["netns", "del", netns]))?;
        }
        Ok(())
    }

    /// Pids of the processes in a lab namespace (empty if it does not exist).
    pub fn pids(netns: &str, ex: &mut dyn Executor) -> Result<Vec<u32>> {
        if !netns_exists(netns) {
            return Ok(Vec::new());
        }
        let out = ex.run(&Cmd::new("ip").args(["netns", "pids", netns]))?;
        Ok(out.split_whitespace().filter_map(|p| p.parse().ok()).collect())
    }
}

pub fn netns_exists(netns: &str) -> bool {
    std::path::Path::new("/run/netns").join(netns).exists()
}

fn link_exists(ex: &mut dyn Executor, netns: Option<&str>, name: &str) -> Result<bool> {
    let mut c = Cmd::new("ip");
    if let Some(ns) = netns {
        c = c.args(["-n", ns]);
    }
    Ok(ex.output(&c.args(["link", "show", "dev", name]))?.success())
}

/// The interface name of an `ip -o link show` line (`3: br0: <...` → `br0`;
/// `4: veth@if5: ...` → `veth`).
fn link_name(line: &str) -> Option<&str> {
    let name = line.split(": ").nth(1)?;
    Some(name.split('@').next().unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_follow_the_index() {
        let n = LabNet { index: 7 };
        assert_eq!(n.netns(), "nblab7");
        assert_eq!(n.veth_peer(), "nblab7p");
        assert_eq!(n.subnet(), "10.213.7.0/24");
        assert_eq!(n.gateway(), "10.213.7.1");
        assert_eq!(n.vm_ip(1), "10.213.7.11");
        assert_eq!(n.mac(3), "52:54:00:d5:07:03");
    }

    #[test]
    fn link_names_are_cut_at_the_peer_suffix() {
        assert_eq!(link_name("3: br0: <BROADCAST> mtu 1500"), Some("br0"));
        assert_eq!(link_name("4: nblab0p@if5: <BROADCAST>"), Some("nblab0p"));
        assert_eq!(link_name("garbage"), None);
    }
}
